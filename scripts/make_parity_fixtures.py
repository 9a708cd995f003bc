#!/usr/bin/python3
"""PyTorch reference for poslab's parity tests.

Builds one tiny pre-norm transformer per (positional encoder, attention kind), runs a
forward and backward pass in float64, and writes weights, inputs, logits, loss and
gradients to tests/fixtures/parity/<encoder>_<kind>.h5. A C++ test loads each file,
runs poslab's model on the same weights and inputs, and compares.

Everything here is written from the formulas in docs/design.md ("Math conventions"),
not from the C++ sources, so the two implementations check each other.

Usage (needs Debian's python3-torch, numpy and h5py):
    /usr/bin/python3 scripts/make_parity_fixtures.py [--out tests/fixtures/parity]

Before writing anything the script runs self-checks (gradcheck of the Shaw and CoPE
attention, RoPE relative-position property, ALiBi slopes, T5 buckets, CoPE counting, the
base block against torch.nn.TransformerEncoderLayer) and stops if one fails.
"""

import argparse
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

LN_EPS = 1e-5
INIT_STD = 0.3  # large on purpose: every weight, bias and table entry must matter


# ---------------------------------------------------------------------------------------
# Positional encoders. Each uses some of four hooks; unused hooks are no-ops.
#   embed(x [B,T,D]) -> x                      add position vectors to token embeddings
#   rotate_qk(q, k [B,H,T,dh], layer) -> q, k  transform queries and keys by position
#   score_bias(q, k [B,H,T,dh], layer)         added to the attention logits [.,H,T,T]
#   value_bias(alpha [B,H,T,T], layer)         added to the attention output [B,H,T,dh]
# Parameters live in the model's flat dict under "encoder.*" names.
# Positions: self.positions is None (0..T-1) or a fixed list [T] (randomized positions,
# Ruoss et al. 2023: a sorted subset of 0..max_position-1 shared by the batch); every
# scheme reads position k = pos[t] of slot t, relative ones pos[i] - pos[j].
# ---------------------------------------------------------------------------------------


class Encoder:
    def __init__(self, cfg, dims, causal):
        self.cfg = cfg
        self.dims = dims  # dict: d_model, heads, layers
        self.causal = causal
        self.params = {}  # name -> tensor (requires grad), filled by init_params
        self.positions = None  # None: 0..T-1; else the [T] positions of the slots

    def pos(self, T):
        """[T] float64 positions of the T slots."""
        if self.positions is None:
            return torch.arange(T, dtype=torch.float64)
        assert len(self.positions) == T
        return torch.tensor(self.positions, dtype=torch.float64)

    def pos_long(self, T):
        return self.pos(T).long()

    def rel(self, T):
        """[T, T] pos[i] - pos[j] (query minus key) as longs."""
        p = self.pos_long(T)
        return p[:, None] - p[None, :]

    def init_params(self):
        pass

    def embed(self, x):
        return x

    def rotate_qk(self, q, k, layer):
        return q, k

    def score_bias(self, q, k, layer):
        return None

    def value_bias(self, alpha, layer):
        return None


def randn(*shape, std=INIT_STD, mean=0.0):
    return (mean + std * torch.randn(*shape)).requires_grad_(True)


class NoneEncoder(Encoder):
    """NoPE: nothing; causal attention alone carries position."""


def sinusoid_table(length, d, base, positions=None):
    # P(k, 2i) = sin(k / base^(2i/d)), P(k, 2i+1) = cos(k / base^(2i/d)), 0 <= i < d/2;
    # row t at k = positions[t] (k = t by default).
    P = torch.zeros(length, d)
    for t in range(length):
        k = t if positions is None else positions[t]
        for i in range(d // 2):
            angle = k / base ** (2 * i / d)
            P[t, 2 * i] = math.sin(angle)
            P[t, 2 * i + 1] = math.cos(angle)
    return P


class SinusoidalEncoder(Encoder):
    def embed(self, x):
        T, D = x.shape[1], x.shape[2]
        return x + sinusoid_table(T, D, self.cfg["base"], self.positions)[None]


class LearnedEncoder(Encoder):
    def init_params(self):
        self.params["encoder.table"] = randn(self.cfg["max_length"], self.dims["d_model"])

    def embed(self, x):
        T = x.shape[1]
        assert T <= self.cfg["max_length"], "learned: length beyond max_length"
        rows = self.pos_long(T)  # row pos[t] for slot t
        assert int(rows.max()) < self.cfg["max_length"], "learned: position beyond max_length"
        return x + self.params["encoder.table"][rows][None]


def shaw_index(T, K, rel=None):
    # [T, T] row index r + K of the relative table, r = clip(j - i, -K, K) (positions:
    # rel = pos[i] - pos[j], r = clip(-rel)).
    if rel is None:
        i = torch.arange(T)[:, None]
        j = torch.arange(T)[None, :]
        rel = i - j
    return (-rel).clamp(-K, K) + K


class ShawEncoder(Encoder):
    def init_params(self):
        K = self.cfg["clip"]
        dh = self.dims["d_model"] // self.dims["heads"]
        for l in range(self.dims["layers"]):
            self.params[f"encoder.layers.{l}.key"] = randn(2 * K + 1, dh)
            self.params[f"encoder.layers.{l}.value"] = randn(2 * K + 1, dh)

    def score_bias(self, q, k, layer):
        # q_i . a^K_{r(i,j)} / sqrt(dh); together with z this is q_i.(k_j + a^K_r)/sqrt(dh).
        return shaw_score(q, self.params[f"encoder.layers.{layer}.key"], self.cfg["clip"],
                          self.rel(q.shape[-2]))

    def value_bias(self, alpha, layer):
        return shaw_value(alpha, self.params[f"encoder.layers.{layer}.value"], self.cfg["clip"],
                          self.rel(alpha.shape[-1]))


def shaw_score(q, aK, K, rp=None):
    T, dh = q.shape[-2], q.shape[-1]
    rel = aK[shaw_index(T, K, rp)]  # [T, T, dh]
    return torch.einsum("bhid,ijd->bhij", q, rel) / math.sqrt(dh)


def shaw_value(alpha, aV, K, rp=None):
    T = alpha.shape[-1]
    rel = aV[shaw_index(T, K, rp)]  # [T, T, dh]
    return torch.einsum("bhij,ijd->bhid", alpha, rel)


def t5_bucket(rp, bidirectional, num_buckets, max_distance):
    """T5's relative_position_bucket for one relative position rp = j - i (Python ints)."""
    if bidirectional:
        nb = num_buckets // 2
        ret = nb if rp > 0 else 0
        n = abs(rp)
    else:
        nb = num_buckets
        ret = 0
        n = max(-rp, 0)
    max_exact = nb // 2
    if n < max_exact:
        return ret + n
    scaled = math.log(n / max_exact) / math.log(max_distance / max_exact) * (nb - max_exact)
    return ret + min(nb - 1, max_exact + math.floor(scaled))


def t5_bucket_table(T, bidirectional, num_buckets, max_distance, positions=None):
    p = list(range(T)) if positions is None else list(positions)
    return torch.tensor([[t5_bucket(p[j] - p[i], bidirectional, num_buckets, max_distance)
                          for j in range(T)] for i in range(T)], dtype=torch.long)


class T5Encoder(Encoder):
    def init_params(self):
        self.params["encoder.bias"] = randn(self.cfg["num_buckets"], self.dims["heads"])

    def score_bias(self, q, k, layer):
        T = q.shape[-2]
        buckets = t5_bucket_table(T, not self.causal, self.cfg["num_buckets"],
                                  self.cfg["max_distance"], self.positions)
        return self.params["encoder.bias"][buckets].permute(2, 0, 1)[None]  # [1,H,T,T]


def alibi_slopes(H):
    def power_of_two(n):
        return [2.0 ** (-8.0 * h / n) for h in range(1, n + 1)]

    if H & (H - 1) == 0:
        return power_of_two(H)
    n = 2 ** int(math.floor(math.log2(H)))
    return power_of_two(n) + power_of_two(2 * n)[0::2][: H - n]


class AlibiEncoder(Encoder):
    def score_bias(self, q, k, layer):
        T = q.shape[-2]
        m = torch.tensor(alibi_slopes(self.dims["heads"]))
        dist = self.rel(T).abs()  # |pos[i] - pos[j]|
        return (-m[:, None, None] * dist[None])[None]  # [1,H,T,T]


def rope_angles(T, dh, base, rotary_dims, interpolation, ntk_factor, positions=None):
    """phi [T, d_rot/2] = (k / interpolation) * theta_m, theta_m = base'^(-2m/d_rot), k the
    slot's position (positions[t], or t)."""
    d_rot = rotary_dims if rotary_dims > 0 else dh
    assert d_rot % 2 == 0 and d_rot <= dh
    if ntk_factor != 1.0:
        assert d_rot > 2, "ntk_factor needs rotary_dims > 2"
        base = base * ntk_factor ** (d_rot / (d_rot - 2))
    m = torch.arange(d_rot // 2, dtype=torch.float64)
    theta = base ** (-2.0 * m / d_rot)
    k = torch.arange(T, dtype=torch.float64) if positions is None else \
        torch.tensor(positions, dtype=torch.float64)
    pos = k / interpolation
    return pos[:, None] * theta[None, :], d_rot


def rope_rotate(x, phi, d_rot):
    # x [..., T, dh]; pairs (2m, 2m+1) for m < d_rot/2 rotate by phi[t, m].
    x0 = x[..., 0:d_rot:2]
    x1 = x[..., 1:d_rot:2]
    c, s = torch.cos(phi), torch.sin(phi)
    r0 = x0 * c - x1 * s
    r1 = x0 * s + x1 * c
    rotated = torch.stack([r0, r1], dim=-1).flatten(-2)  # interleave back
    return torch.cat([rotated, x[..., d_rot:]], dim=-1)


class RopeEncoder(Encoder):
    def rotate_qk(self, q, k, layer):
        T, dh = q.shape[-2], q.shape[-1]
        c = self.cfg
        if c.get("scaling", "none") == "yarn":  # YaRN: new frequencies, q and k x (0.1 ln s + 1)
            theta, d_rot = yarn_theta(dh, c["base"], c["rotary_dims"], c["factor"],
                                      c["original_length"], c["alpha"], c["beta"])
            phi = self.pos(T)[:, None] * theta[None, :]
            mag = 0.1 * math.log(c["factor"]) + 1
            return rope_rotate(q, phi, d_rot) * mag, rope_rotate(k, phi, d_rot) * mag
        phi, d_rot = rope_angles(T, dh, c["base"], c["rotary_dims"], c["interpolation"],
                                 c["ntk_factor"], self.positions)
        return rope_rotate(q, phi, d_rot), rope_rotate(k, phi, d_rot)


def cope_positions(z):
    """p_ij = min(sum_{t=j..i} sigmoid(z_it), .) before clamping; z [..., T, T]."""
    T = z.shape[-1]
    keep = torch.tril(torch.ones(T, T, dtype=torch.bool))  # j <= i
    g = torch.sigmoid(z) * keep
    # sum over t >= j of g_it (g_it = 0 for t > i): reverse cumulative sum along j.
    return g.flip(-1).cumsum(-1).flip(-1)


def cope_score(q, k, E, p_max, divide=False):
    dh = q.shape[-1]
    z = q @ k.transpose(-1, -2) / math.sqrt(dh)
    p = cope_positions(z).clamp(max=p_max)
    lo = p.detach().floor().long()
    hi = p.detach().ceil().long()
    w = p - lo.to(p.dtype)  # gradient flows through p only
    logits_int = q @ E  # [B,H,T,p_max+1]: q_i . e[n] for every integer n
    e_lo = logits_int.gather(-1, lo)
    e_hi = logits_int.gather(-1, hi)
    pos_logits = w * e_hi + (1 - w) * e_lo
    # Pseudo-code: z + q.e (q.e not divided). Released code (divide_position_logits):
    # (q.k + q.e) / sqrt(dh), i.e. z + q.e / sqrt(dh).
    return pos_logits / math.sqrt(dh) if divide else pos_logits


def cope_p_max(cfg):
    """p_max, or npos - 1 when the fixture uses the released code's name."""
    return cfg["npos"] - 1 if "npos" in cfg else cfg["p_max"]


class CopeEncoder(Encoder):
    def __init__(self, cfg, dims, causal):
        assert causal, "cope is causal only"
        super().__init__(cfg, dims, causal)

    def init_params(self):
        dh = self.dims["d_model"] // self.dims["heads"]
        for l in range(self.dims["layers"]):
            self.params[f"encoder.layers.{l}.E"] = randn(dh, cope_p_max(self.cfg) + 1)

    def score_bias(self, q, k, layer):
        return cope_score(q, k, self.params[f"encoder.layers.{layer}.E"], cope_p_max(self.cfg),
                          self.cfg.get("divide_position_logits", False))


def relative_rows(rel, M):
    """[T, T] table row of (i, j): the distance i - j clamped to M - 1 (0 where j > i: masked)."""
    return rel.clamp(min=0, max=M - 1)


class RelativeEncoder(Encoder):
    """The CoPE paper's relative PE (its released code's RelPosEmb): logits
    (q_i.k_j + q_i.e[i - j]) / sqrt(dh), one e per distance, clamped at max_distance - 1."""

    def __init__(self, cfg, dims, causal):
        assert causal, "relative is causal only"
        super().__init__(cfg, dims, causal)

    def table_name(self, layer):
        shared = self.cfg.get("shared_across_layers", True)
        return "encoder.rel_table" if shared else f"encoder.layers.{layer}.rel_table"

    def init_params(self):
        dh = self.dims["d_model"] // self.dims["heads"]
        for l in range(self.dims["layers"]):
            name = self.table_name(l)
            if name not in self.params:
                self.params[name] = randn(self.cfg["max_distance"], dh)

    def score_bias(self, q, k, layer):
        T, dh = q.shape[-2], q.shape[-1]
        e = self.params[self.table_name(layer)][relative_rows(self.rel(T), self.cfg["max_distance"])]
        return torch.einsum("bhid,ijd->bhij", q, e) / math.sqrt(dh)  # [B,H,T,T]


# --- The schemes of issue #13, each from its paper's formula (not from the C++). ---------


class KerpleEncoder(Encoder):
    """Kerple (Chi et al. 2022): -r1 log(1 + r2 |i-j|) or -r1 |i-j|^r2 per head, shared by
    the layers; r1 = softplus(rho1), r2 = softplus(rho2) (log) or 2 sigmoid(rho2) (power)."""

    def init_params(self):
        H = self.dims["heads"]
        self.params["encoder.rho1"] = randn(H, std=1.0)
        self.params["encoder.rho2"] = randn(H, std=1.0)

    def score_bias(self, q, k, layer):
        T = q.shape[-2]
        rho1, rho2 = self.params["encoder.rho1"], self.params["encoder.rho2"]
        r1 = torch.log1p(torch.exp(rho1))[:, None, None]
        dist = self.rel(T).abs().to(torch.float64)  # |pos[i] - pos[j]|
        if self.cfg.get("variant", "log") == "power":
            r2 = (2 * torch.sigmoid(rho2))[:, None, None]
            # |i-j|^r2 with 0^r2 = 0 and no log(0) in its gradient
            powered = torch.where(dist > 0, dist.clamp(min=1.0)[None] ** r2, torch.zeros(()))
            return (-r1 * powered)[None]
        r2 = torch.log1p(torch.exp(rho2))[:, None, None]
        return (-r1 * torch.log(1 + r2 * dist[None]))[None]


class SandwichEncoder(Encoder):
    """Sandwich (Chi et al. 2023): p_{i/r_h}.p_{j/r_h} - dbar/2 with p the dbar-dimensional
    sinusoid (docs/design.md's sin/cos pairs), r_h = 8h/H (h = 1..H) or 1 (head_scaling
    compress); or (p_i.p_j - dbar/2) / r_h (head_scaling divide, as NVIDIA NeMo). The
    frequencies are base^(-2k/dbar) for k = k0..k0+dbar/2-1 (first_frequency k0)."""

    def score_bias(self, q, k, layer):
        T, H = q.shape[-2], self.dims["heads"]
        dbar = self.cfg.get("dim", 0) or self.dims["d_model"]
        positions = self.pos(T)
        base = self.cfg.get("base", 10000.0)
        per_head = self.cfg.get("per_head_ratio", True)
        divide = self.cfg.get("head_scaling", "compress") == "divide"
        k0 = self.cfg.get("first_frequency", 0)
        out = []
        for h in range(1, H + 1):
            ratio = 8.0 * h / H if per_head else 1.0
            pos = positions if divide else positions / ratio
            freq = base ** (-2.0 * torch.arange(k0, k0 + dbar // 2, dtype=torch.float64) / dbar)
            ang = pos[:, None] * freq[None, :]
            p = torch.stack([torch.sin(ang), torch.cos(ang)], dim=-1).flatten(-2)  # [T, dbar]
            bias = p @ p.T - dbar / 2
            out.append(bias / ratio if divide else bias)
        return torch.stack(out)[None]


class FireEncoder(Encoder):
    """FIRE (Li et al. 2024): f(psi(i-j)/psi(max(L, i))), psi(x) = log(c x + 1), f an MLP
    1 -> hidden -> H (no output bias) per layer; c = c_init e^log_c, L = L_init e^log_L; |i-j| in psi."""

    def init_params(self):
        H, K = self.dims["heads"], self.cfg.get("hidden", 32)
        for l in range(self.dims["layers"]):
            pre = f"encoder.layers.{l}."
            self.params[pre + "fc1.weight"] = randn(K, 1, std=1.0)
            # Every hidden unit's kink at an input inside (0.1, 0.9): no unit is active on
            # all of [0, 1], where it would be linear and its bias a per-row constant that
            # the softmax ignores (an exactly-0 gradient that no relative test can compare).
            kink = 0.1 + 0.8 * torch.rand(K)
            self.params[pre + "fc1.bias"] = (-self.params[pre + "fc1.weight"].detach()[:, 0]
                                             * kink).requires_grad_(True)
            self.params[pre + "fc2.weight"] = randn(H, K)
            self.params[pre + "log_c"] = randn(1, std=0.1)
            self.params[pre + "log_L"] = randn(1, std=0.1)

    def score_bias(self, q, k, layer):
        T = q.shape[-2]
        pre = f"encoder.layers.{layer}."
        P = self.params
        c = self.cfg.get("c_init", 1.0) * torch.exp(P[pre + "log_c"])
        L = self.cfg.get("L_init", 16.0) * torch.exp(P[pre + "log_L"])
        i = self.pos(T)[:, None].expand(T, T)  # the query's position pos[i]
        j = self.pos(T)[None, :].expand(T, T)  # the key's position pos[j]
        n = torch.maximum(i, L.expand(T, T))
        x = torch.log(c * (i - j).abs() + 1) / torch.log(c * n + 1)  # [T, T]
        hdn = torch.relu(x[..., None] @ P[pre + "fc1.weight"].T + P[pre + "fc1.bias"])
        f = hdn @ P[pre + "fc2.weight"].T  # [T, T, H] (no output bias: softmax ignores it)
        return f.permute(2, 0, 1)[None]


def xpos_zeta(d_rot, gamma):
    return (torch.arange(0, d_rot, 2, dtype=torch.float64) / d_rot + gamma) / (1 + gamma)


class XposEncoder(Encoder):
    """xPos (Sun et al. 2023): RoPE, then q_n *= zeta^(n/B), k_m *= zeta^(-m/B) per pair."""

    def __init__(self, cfg, dims, causal):
        assert causal, "xpos is causal only"
        super().__init__(cfg, dims, causal)

    def rotate_qk(self, q, k, layer):
        T, dh = q.shape[-2], q.shape[-1]
        c = self.cfg
        phi, d_rot = rope_angles(T, dh, c.get("base", 10000.0), c.get("rotary_dims", 0), 1.0, 1.0,
                                 self.positions)
        zeta = xpos_zeta(d_rot, c.get("gamma", 0.4))
        n = self.pos(T)[:, None]
        up = zeta[None, :] ** (n / c.get("scale_base", 512.0))  # [T, d_rot/2], uncentred
        scale = torch.repeat_interleave(up, 2, dim=-1)  # the pair's two dims share it
        ones = torch.ones(T, dh - d_rot)
        s_q = torch.cat([scale, ones], dim=-1)
        s_k = torch.cat([1 / scale, ones], dim=-1)
        return rope_rotate(q, phi, d_rot) * s_q, rope_rotate(k, phi, d_rot) * s_k


class TransformerXlEncoder(Encoder):
    """Transformer-XL relative attention (Dai et al. 2019), per head h, scaled by 1/sqrt(dh):
    q_i.W_R R_{i-j} + u_h.k_j + v_h.W_R R_{i-j} (q_i.k_j is the attention's own term)."""

    def init_params(self):
        D, H = self.dims["d_model"], self.dims["heads"]
        for l in range(self.dims["layers"]):
            pre = f"encoder.layers.{l}."
            self.params[pre + "W_R"] = randn(D, D)
            self.params[pre + "u"] = randn(H, D // H)
            self.params[pre + "v"] = randn(H, D // H)

    def score_bias(self, q, k, layer):
        B, H, T, dh = q.shape
        D = H * dh
        pre = f"encoder.layers.{layer}."
        W, u, v = self.params[pre + "W_R"], self.params[pre + "u"], self.params[pre + "v"]
        rel = self.rel(T)  # [T, T]: pos[i] - pos[j]
        S = int(rel.abs().max()) + 1
        # R at every signed distance, then W_R R split into heads: [T, T, H, dh]
        R = torch.stack([sinusoid_row(float(r), D, self.cfg.get("base", 10000.0))
                         for r in range(-(S - 1), S)])  # [2S-1, D]
        WR = (R @ W.T)[rel + S - 1].reshape(T, T, H, dh)
        term_b = torch.einsum("bhid,ijhd->bhij", q, WR)
        term_c = torch.einsum("hd,bhjd->bhj", u, k)[:, :, None, :]
        term_d = torch.einsum("hd,ijhd->hij", v, WR)[None]
        return (term_b + term_c + term_d) / math.sqrt(dh)


def sinusoid_row(r, d, base):
    # docs/design.md's sinusoid at a (possibly negative) position r: sin at even, cos at odd.
    return torch.tensor([math.sin(r / base ** (2 * (c // 2) / d)) if c % 2 == 0
                         else math.cos(r / base ** (2 * (c // 2) / d)) for c in range(d)])


def yarn_theta(dh, base, rotary_dims, factor, original_length, alpha, beta):
    """YaRN's NTK-by-parts frequencies (Peng et al. 2023)."""
    d_rot = rotary_dims if rotary_dims > 0 else dh
    m = torch.arange(d_rot // 2, dtype=torch.float64)
    theta = base ** (-2.0 * m / d_rot)
    r = original_length / (2 * math.pi / theta)  # turns over the original context
    gamma = ((r - alpha) / (beta - alpha)).clamp(0, 1)
    return (1 - gamma) * theta / factor + gamma * theta, d_rot



# The walk-through toy of docs/extending.md (the page shows this class verbatim).
class ToyLinearPositionEncoder(Encoder):
    """docs/extending.md's walk-through: x[b,t] += (p_t / scale) u, u [D] learned."""

    def init_params(self):
        self.params["encoder.direction"] = randn(self.dims["d_model"])

    def embed(self, x):
        T = x.shape[1]
        scale = self.cfg.get("scale", 64.0)
        return x + (self.pos(T) / scale)[None, :, None] * self.params["encoder.direction"]


ENCODERS = {
    "none": NoneEncoder,
    "sinusoidal": SinusoidalEncoder,
    "learned": LearnedEncoder,
    "shaw": ShawEncoder,
    "t5": T5Encoder,
    "alibi": AlibiEncoder,
    "rope": RopeEncoder,
    "cope": CopeEncoder,
    "kerple": KerpleEncoder,
    "sandwich": SandwichEncoder,
    "fire": FireEncoder,
    "xpos": XposEncoder,
    "transformer_xl": TransformerXlEncoder,
    "toy_linear_position": ToyLinearPositionEncoder,
    "relative": RelativeEncoder,
}


# ---------------------------------------------------------------------------------------
# The transformer (pre-norm), as plain functions over a flat parameter dict.
# ---------------------------------------------------------------------------------------


def init_model_params(V, D, F_, L, tied):
    p = {}
    p["tok_emb.weight"] = randn(V, D)
    for l in range(L):
        pre = f"layers.{l}."
        p[pre + "ln1.weight"] = randn(D, mean=1.0)
        p[pre + "ln1.bias"] = randn(D)
        p[pre + "attn.qkv.weight"] = randn(3 * D, D)
        p[pre + "attn.qkv.bias"] = randn(3 * D)
        p[pre + "attn.out.weight"] = randn(D, D)
        p[pre + "attn.out.bias"] = randn(D)
        p[pre + "ln2.weight"] = randn(D, mean=1.0)
        p[pre + "ln2.bias"] = randn(D)
        p[pre + "mlp.fc1.weight"] = randn(F_, D)
        p[pre + "mlp.fc1.bias"] = randn(F_)
        p[pre + "mlp.fc2.weight"] = randn(D, F_)
        p[pre + "mlp.fc2.bias"] = randn(D)
    p["ln_f.weight"] = randn(D, mean=1.0)
    p["ln_f.bias"] = randn(D)
    if not tied:
        p["head.weight"] = randn(V, D)
    return p


def layer_norm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b, LN_EPS)


def attention(a, p, pre, enc, layer, H, causal):
    """a [B,T,D] (already normalised) -> attention output after out-projection [B,T,D]."""
    B, T, D = a.shape
    dh = D // H
    qkv = a @ p[pre + "attn.qkv.weight"].T + p[pre + "attn.qkv.bias"]
    q, k, v = qkv[..., 0:D], qkv[..., D:2 * D], qkv[..., 2 * D:3 * D]

    def heads(x):  # [B,T,D] -> [B,H,T,dh]; head h owns features h*dh .. (h+1)*dh-1
        return x.reshape(B, T, H, dh).transpose(1, 2)

    q, k, v = heads(q), heads(k), heads(v)
    q, k = enc.rotate_qk(q, k, layer)
    logits = q @ k.transpose(-1, -2) / math.sqrt(dh)
    bias = enc.score_bias(q, k, layer)
    if bias is not None:
        logits = logits + bias
    if causal:
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # j > i
        logits = logits.masked_fill(future, float("-inf"))
    alpha = torch.softmax(logits, dim=-1)
    o = alpha @ v
    vb = enc.value_bias(alpha, layer)
    if vb is not None:
        o = o + vb
    o = o.transpose(1, 2).reshape(B, T, D)
    return o @ p[pre + "attn.out.weight"].T + p[pre + "attn.out.bias"]


def block(x, p, l, enc, H, causal):
    pre = f"layers.{l}."
    a = layer_norm(x, p[pre + "ln1.weight"], p[pre + "ln1.bias"])
    x = x + attention(a, p, pre, enc, l, H, causal)
    m = layer_norm(x, p[pre + "ln2.weight"], p[pre + "ln2.bias"])
    hdn = F.gelu(m @ p[pre + "mlp.fc1.weight"].T + p[pre + "mlp.fc1.bias"], approximate="tanh")
    return x + hdn @ p[pre + "mlp.fc2.weight"].T + p[pre + "mlp.fc2.bias"]


def forward(ids, p, enc, L, H, causal):
    x = p["tok_emb.weight"][ids]  # [B,T,D]
    x = enc.embed(x)
    for l in range(L):
        x = block(x, p, l, enc, H, causal)
    h = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"])
    head = p["head.weight"] if "head.weight" in p else p["tok_emb.weight"]
    return h @ head.T  # [B,T,V]


def masked_loss(logits, targets, mask):
    V = logits.shape[-1]
    ce = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="none")
    m = mask.reshape(-1).to(ce.dtype)
    return (ce * m).sum() / m.sum()


# ---------------------------------------------------------------------------------------
# The fixtures: one per encoder x kind, with non-default options.
# ---------------------------------------------------------------------------------------

V, B, T, L, F_ = 11, 2, 7, 2, 32

# (encoder, kind, encoder options in poslab's vocabulary, d_model, heads, tied)
FIXTURES = [
    ("none", "causal", {}, 16, 2, False),
    ("none", "bidirectional", {}, 16, 2, True),
    ("sinusoidal", "causal", {"base": 100.0}, 16, 2, True),
    ("sinusoidal", "bidirectional", {"base": 100.0}, 16, 2, False),
    ("learned", "causal", {"max_length": 10}, 16, 2, False),
    ("learned", "bidirectional", {"max_length": 10}, 16, 2, True),
    ("shaw", "causal", {"clip": 2}, 16, 2, True),
    ("shaw", "bidirectional", {"clip": 2}, 16, 2, False),
    ("t5", "causal", {"num_buckets": 8, "max_distance": 6}, 16, 2, False),
    ("t5", "bidirectional", {"num_buckets": 8, "max_distance": 6}, 16, 2, True),
    ("alibi", "causal", {}, 24, 3, True),
    ("alibi", "bidirectional", {}, 24, 3, False),
    ("rope", "causal",
     {"base": 100.0, "rotary_dims": 6, "interpolation": 2.0, "ntk_factor": 1.0}, 16, 2, False),
    ("rope", "bidirectional",
     {"base": 100.0, "rotary_dims": 0, "interpolation": 1.0, "ntk_factor": 4.0}, 16, 2, True),
    ("cope", "causal", {"p_max": 3}, 16, 2, False),
    ("kerple", "causal", {"variant": "log"}, 16, 2, False),
    ("kerple", "bidirectional", {"variant": "power"}, 24, 3, True),
    ("kerple_power", "causal", {"variant": "power"}, 16, 2, True),
    ("sandwich", "causal", {"dim": 8, "base": 100.0, "per_head_ratio": True}, 16, 2, False),
    ("sandwich", "bidirectional", {"dim": 0, "base": 10000.0, "per_head_ratio": False},
     24, 3, True),
    ("fire", "causal", {"hidden": 5, "c_init": 0.7, "L_init": 3.5}, 16, 2, False),
    ("fire", "bidirectional", {"hidden": 4, "c_init": 1.3, "L_init": 2.5}, 16, 2, True),
    ("xpos", "causal", {"gamma": 0.4, "scale_base": 4.0, "base": 100.0, "rotary_dims": 6},
     16, 2, False),
    ("transformer_xl", "causal", {"base": 100.0}, 16, 2, True),
    ("transformer_xl", "bidirectional", {"base": 10000.0}, 12, 3, False),
    ("rope_yarn", "causal",
     {"base": 100.0, "rotary_dims": 0, "interpolation": 1.0, "ntk_factor": 1.0,
      "scaling": "yarn", "factor": 4.0, "original_length": 16, "alpha": 1.0, "beta": 3.0},
     16, 2, False),
]

# Randomized positions (Ruoss et al. 2023): the same schemes reading a FIXED position array
# (stored in the fixture as /positions, read by the C++ test), a sorted subset of
# 0..max_position-1 with gaps, not starting at 0. Named <encoder>_randomized_<kind>.
RANDOMIZED_POSITIONS = [2, 3, 7, 12, 20, 27, 38]
RANDOMIZED = {"randomized": {"max_position": 40}}
FIXTURES += [
    ("sinusoidal_randomized", "causal", {"base": 100.0, **RANDOMIZED}, 16, 2, True),
    ("learned_randomized", "causal", {"max_length": 40, **RANDOMIZED}, 16, 2, False),
    ("learned_randomized", "bidirectional", {"max_length": 40, **RANDOMIZED}, 16, 2, True),
    ("rope_randomized", "causal",
     {"base": 100.0, "rotary_dims": 6, "interpolation": 2.0, "ntk_factor": 1.0, **RANDOMIZED},
     16, 2, False),
    ("rope_randomized", "bidirectional",
     {"base": 100.0, "rotary_dims": 0, "interpolation": 1.0, "ntk_factor": 1.0, **RANDOMIZED},
     16, 2, True),
    ("alibi_randomized", "causal", {**RANDOMIZED}, 24, 3, True),
    ("alibi_randomized", "bidirectional", {**RANDOMIZED}, 16, 2, False),
    ("t5_randomized", "causal", {"num_buckets": 8, "max_distance": 20, **RANDOMIZED}, 16, 2, False),
    ("t5_randomized", "bidirectional", {"num_buckets": 12, "max_distance": 20, **RANDOMIZED},
     16, 2, True),
    ("kerple_randomized", "causal", {"variant": "log", **RANDOMIZED}, 16, 2, False),
    ("kerple_randomized", "bidirectional", {"variant": "power", **RANDOMIZED}, 16, 2, True),
    ("fire_randomized", "causal", {"hidden": 5, "c_init": 0.7, "L_init": 9.5, **RANDOMIZED},
     16, 2, False),
    ("fire_randomized", "bidirectional", {"hidden": 4, "c_init": 1.3, "L_init": 5.0, **RANDOMIZED},
     16, 2, True),
    ("sandwich_randomized", "causal", {"dim": 8, "base": 100.0, "per_head_ratio": True, **RANDOMIZED},
     16, 2, False),
    ("shaw_randomized", "bidirectional", {"clip": 2, **RANDOMIZED}, 16, 2, False),
    ("shaw_randomized", "causal", {"clip": 6, **RANDOMIZED}, 16, 2, True),
    ("xpos_randomized", "causal",
     {"gamma": 0.4, "scale_base": 16.0, "base": 100.0, "rotary_dims": 6, **RANDOMIZED},
     16, 2, False),
    ("transformer_xl_randomized", "causal", {"base": 100.0, **RANDOMIZED}, 16, 2, True),
    ("transformer_xl_randomized", "bidirectional", {"base": 100.0, **RANDOMIZED}, 12, 3, False),
]

# The CoPE paper's baselines (issue #16), appended so the seeds above keep their numbers.
# relative (shared): T = 7 reaches distance 6 > max_distance - 1 = 4, so rows clamp;
# relative_per_layer: max_distance 9 leaves rows 7-8 unread (zero gradient);
# cope_released: the released code's options (npos, division, zero init; the init does not
# enter parity, the fixture's E is random).
FIXTURES += [
    ("relative", "causal", {"max_distance": 5, "shared_across_layers": True}, 16, 2, False),
    ("relative_per_layer", "causal", {"max_distance": 9, "shared_across_layers": False},
     24, 3, True),
    ("relative_randomized", "causal", {"max_distance": 30, **RANDOMIZED}, 16, 2, False),
    ("cope_released", "causal",
     {"npos": 4, "divide_position_logits": True, "init": "zeros"}, 16, 2, True),
]

# Sandwich as NVIDIA NeMo reads it, and docs/extending.md's walk-through toy (the tests
# compile its C++ from that page); appended like the block above.
FIXTURES += [
    ("sandwich_divide", "causal",
     {"dim": 8, "base": 100.0, "per_head_ratio": True, "head_scaling": "divide",
      "first_frequency": 1}, 16, 2, False),
    ("sandwich_divide", "bidirectional",
     {"dim": 0, "base": 10000.0, "per_head_ratio": True, "head_scaling": "divide",
      "first_frequency": 1}, 24, 3, True),
    ("toy_linear_position", "causal", {"scale": 8.0}, 16, 2, False),
    ("toy_linear_position", "bidirectional", {"scale": 8.0}, 16, 2, True),
]

BASE_SEED = 20240601


def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def yaml_flow(d):
    return "{" + ", ".join(f"{k}: {yaml_flow(v) if isinstance(v, dict) else yaml_scalar(v)}"
                           for k, v in d.items()) + "}"


# Fixtures of a second option set of one encoder are named <encoder>_<variant>_<kind>.
FIXTURE_ENCODER = {"kerple_power": "kerple", "rope_yarn": "rope", "sandwich_divide": "sandwich",
                   "relative_per_layer": "relative", "cope_released": "cope",
                   **{f"{n}_randomized": n for n in
                      ("sinusoidal", "learned", "rope", "alibi", "t5", "kerple", "fire",
                       "sandwich", "shaw", "xpos", "transformer_xl", "relative")}}


def build_fixture(index, tag, kind, opts, D, H, tied):
    torch.manual_seed(BASE_SEED + index)
    causal = kind == "causal"
    dims = {"d_model": D, "heads": H, "layers": L}
    name = FIXTURE_ENCODER.get(tag, tag)
    enc = ENCODERS[name](opts, dims, causal)
    if "randomized" in opts:
        enc.positions = RANDOMIZED_POSITIONS
        assert max(enc.positions) < opts["randomized"]["max_position"]

    params = init_model_params(V, D, F_, L, tied)
    enc.init_params()
    params.update(enc.params)

    ids = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    # Three masked positions, but every position keeps its loss in some example (else, in
    # a causal model, the last position's weights could go untested).
    while True:
        mask = torch.ones(B * T, dtype=torch.long)
        mask[torch.randperm(B * T)[:3]] = 0
        mask = mask.reshape(B, T)
        if (mask.sum(dim=0) > 0).all():
            break

    logits = forward(ids, params, enc, L, H, causal)
    loss = masked_loss(logits, targets, mask)
    names = list(params.keys())
    grads = torch.autograd.grad(loss, [params[n] for n in names], allow_unused=True)
    grads = {n: (g if g is not None else torch.zeros_like(params[n]))
             for n, g in zip(names, grads)}

    model = {"layers": L, "d_model": D, "heads": H, "d_ff": F_,
             "tied_embeddings": tied, "attention": kind}
    encoder = {"name": name, **opts}
    return {
        "name": f"{tag}_{kind}", "encoder": name, "kind": kind,
        "model_yaml": yaml_flow(model), "encoder_yaml": yaml_flow(encoder),
        "ids": ids, "targets": targets, "mask": mask, "params": params,
        "logits": logits.detach(), "loss": loss.detach(), "grads": grads, "enc": enc,
        "H": H, "positions": enc.positions,
    }


def write_fixture(fx, out_dir):
    path = os.path.join(out_dir, fx["name"] + ".h5")
    tmp = path + ".tmp"  # written then renamed, so a failure leaves no half-written fixture
    try:
        _write_h5(fx, tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    os.replace(tmp, path)
    return path


def _write_h5(fx, tmp):
    with h5py.File(tmp, "w") as f:
        f.attrs["encoder"] = fx["encoder"]
        f.attrs["kind"] = fx["kind"]
        f.attrs["model_yaml"] = fx["model_yaml"]
        f.attrs["encoder_yaml"] = fx["encoder_yaml"]
        f.attrs["vocab_size"] = np.int64(V)
        f.attrs["torch_version"] = str(torch.__version__)
        f.create_dataset("inputs", data=fx["ids"].numpy().astype(np.int64))
        f.create_dataset("targets", data=fx["targets"].numpy().astype(np.int64))
        f.create_dataset("loss_mask", data=fx["mask"].numpy().astype(np.int64))
        if fx["positions"] is not None:
            f.create_dataset("positions", data=np.array(fx["positions"], dtype=np.int64))
        f.create_dataset("logits", data=fx["logits"].numpy().astype(np.float64))
        f.create_dataset("loss", data=np.float64(fx["loss"].item()))
        gp = f.create_group("params")
        gg = f.create_group("grads")
        for n, t in fx["params"].items():
            gp.create_dataset(n, data=t.detach().numpy().astype(np.float64))
            gg.create_dataset(n, data=fx["grads"][n].numpy().astype(np.float64))


def parse_flow(text):
    """Parse the flat YAML flow mappings this script writes: {key: scalar, ...}."""
    out = {}
    for item in text.strip()[1:-1].split(","):
        if not item.strip():
            continue
        key, val = (t.strip() for t in item.split(":", 1))
        if val in ("true", "false"):
            out[key] = val == "true"
        else:
            try:
                out[key] = int(val)
            except ValueError:
                try:
                    out[key] = float(val)
                except ValueError:
                    out[key] = val
    return out


def verify_fixture(path):
    """Reload a written file and rebuild everything from it alone: the model from
    model_yaml/encoder_yaml, the weights from /params. Logits, loss and gradients must come
    out bit-for-bit the same, every parameter must be present with its gradient, and every
    gradient must be non-zero except where nothing reads the parameter."""
    with h5py.File(path, "r") as f:
        model = parse_flow(f.attrs["model_yaml"])
        opts = parse_flow(f.attrs["encoder_yaml"])
        name = opts.pop("name")
        assert name == f.attrs["encoder"] and model["attention"] == f.attrs["kind"]
        Vf = int(f.attrs["vocab_size"])
        ids = torch.from_numpy(f["inputs"][()])
        targets = torch.from_numpy(f["targets"][()])
        mask = torch.from_numpy(f["loss_mask"][()])
        params = {n: torch.from_numpy(f["params"][n][()]).requires_grad_(True)
                  for n in f["params"]}
        grads_file = {n: torch.from_numpy(f["grads"][n][()]) for n in f["grads"]}
        logits_file = torch.from_numpy(f["logits"][()])
        loss_file = float(f["loss"][()])
        assert f["inputs"].dtype == np.int64 and f["loss_mask"].dtype == np.int64
        assert all(f[k].dtype == np.float64 for k in ("logits", "loss"))
        assert f["loss"].shape == ()
        positions = [int(p) for p in f["positions"][()]] if "positions" in f else None
    D, H, Lf, Ff = model["d_model"], model["heads"], model["layers"], model["d_ff"]
    causal = model["attention"] == "causal"
    expected = init_model_params(Vf, D, Ff, Lf, model["tied_embeddings"])
    enc = ENCODERS[name](opts, {"d_model": D, "heads": H, "layers": Lf}, causal)
    enc.positions = positions
    enc.init_params()
    expected.update(enc.params)
    assert set(params) == set(expected) == set(grads_file), path
    for n in expected:
        assert params[n].shape == expected[n].shape == grads_file[n].shape, n
    enc.params = params
    logits = forward(ids, params, enc, Lf, H, causal)
    loss = masked_loss(logits, targets, mask)
    names = list(params)
    grads = torch.autograd.grad(loss, [params[n] for n in names], allow_unused=True)
    assert torch.equal(logits.detach(), logits_file) and loss.item() == loss_file
    assert logits.shape == (ids.shape[0], ids.shape[1], Vf)
    assert 0 < int(mask.sum()) < mask.numel() and (mask.sum(dim=0) > 0).all()
    for n, g in zip(names, grads):
        assert g is not None and torch.equal(g, grads_file[n]), n
        if n == "encoder.table":  # learned rows at no slot's position are never read
            read = enc.pos_long(ids.shape[1])
            unread = torch.ones(g.shape[0], dtype=torch.bool)
            unread[read] = False
            assert g[read].abs().min(dim=1).values.min() > 0 and g[unread].abs().max() == 0
        elif n.startswith("encoder.layers.") and n.endswith(".key") or \
                n.startswith("encoder.layers.") and n.endswith(".value"):
            # exactly the rows of the clipped distances that occur get gradient (j > i,
            # rows K+1..2K, not under the causal mask; with positions, the gaps decide)
            K = opts["clip"]
            Tn = ids.shape[1]
            rows = shaw_index(Tn, K, enc.rel(Tn))
            if causal:
                rows = rows[torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))]
            expected = set(rows.flatten().tolist())
            used = g.abs().sum(dim=1) > 0
            for r in range(2 * K + 1):
                assert bool(used[r]) == (r in expected), (n, r)
        elif n.endswith("rel_table"):  # relative: only the clamped distances that occur
            Tn = ids.shape[1]
            rows = relative_rows(enc.rel(Tn), opts["max_distance"])
            rows = set(rows[torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))].tolist())
            for r in range(g.shape[0]):
                assert (g[r].abs().min() > 0) == (r in rows), (n, r)
        elif n == "encoder.bias":  # t5: only buckets that occur get gradient
            Tn = ids.shape[1]
            used = t5_bucket_table(Tn, not causal, opts["num_buckets"], opts["max_distance"],
                                   positions)
            if causal:
                used = used[torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))]
            used = set(used.flatten().tolist())
            for bkt in range(g.shape[0]):
                assert (g[bkt].abs().min() > 0) == (bkt in used), (n, bkt)
        elif n != "tok_emb.weight":  # rows of ids absent from the batch have no gradient
            assert g.abs().max() > 0, n
    return len(names)


def cope_fixture_stats(fx):
    """Recompute layer-0 CoPE positions of the fixture: are some clamped, some fractional?"""
    p = fx["params"]
    enc, H = fx["enc"], fx["H"]
    with torch.no_grad():
        x = p["tok_emb.weight"][fx["ids"]]
        a = layer_norm(x, p["layers.0.ln1.weight"], p["layers.0.ln1.bias"])
        D = a.shape[-1]
        qkv = a @ p["layers.0.attn.qkv.weight"].T + p["layers.0.attn.qkv.bias"]
        q = qkv[..., :D].reshape(B, T, H, D // H).transpose(1, 2)
        k = qkv[..., D:2 * D].reshape(B, T, H, D // H).transpose(1, 2)
        pos = cope_positions(q @ k.transpose(-1, -2) / math.sqrt(D // H))
        keep = torch.tril(torch.ones(T, T, dtype=torch.bool)).expand_as(pos)
        pv = pos[keep]
        clamped = int((pv > cope_p_max(enc.cfg)).sum())
        frac = pv[pv < cope_p_max(enc.cfg)]
        fractional = int(((frac - frac.round()).abs() > 1e-3).sum())
    return clamped, fractional, int(pv.numel())


# ---------------------------------------------------------------------------------------
# Self-checks.
# ---------------------------------------------------------------------------------------


def check(label, ok):
    print(("PASS  " if ok else "FAIL  ") + label)
    if not ok:
        sys.exit(1)


def self_checks():
    torch.manual_seed(7)

    # Shaw attention (score bias + value bias, softmax in between), both kinds.
    for causal in (True, False):
        Tn, dh, K = 5, 3, 1

        def shaw_attn(q, k, v, aK, aV, causal=causal):
            z = q @ k.transpose(-1, -2) / math.sqrt(dh) + shaw_score(q, aK, K)
            if causal:
                z = z.masked_fill(torch.triu(torch.ones(Tn, Tn, dtype=torch.bool), 1),
                                  float("-inf"))
            alpha = torch.softmax(z, -1)
            return alpha @ v + shaw_value(alpha, aV, K)

        args = tuple(torch.randn(*s).requires_grad_(True) for s in
                     [(1, 2, Tn, dh), (1, 2, Tn, dh), (1, 2, Tn, dh),
                      (2 * K + 1, dh), (2 * K + 1, dh)])
        check(f"gradcheck shaw attention ({'causal' if causal else 'bidirectional'})",
              torch.autograd.gradcheck(shaw_attn, args))

    # Shaw score bias equals the literal q_i.(k_j + a^K_r)/sqrt(dh) - q_i.k_j/sqrt(dh).
    Tn, dh, K = 6, 4, 2
    q, k, aK, aV = torch.randn(Tn, dh), torch.randn(Tn, dh), torch.randn(2 * K + 1, dh), \
        torch.randn(2 * K + 1, dh)
    lit = torch.tensor([[q[i] @ (k[j] + aK[max(-K, min(K, j - i)) + K]) / math.sqrt(dh)
                         for j in range(Tn)] for i in range(Tn)])
    ours = q @ k.T / math.sqrt(dh) + shaw_score(q[None, None], aK, K)[0, 0]
    check("shaw logits equal the literal formula", torch.allclose(lit, ours, atol=1e-12))
    v = torch.randn(Tn, dh)
    alpha = torch.softmax(lit, -1)
    lit_out = torch.stack([sum(alpha[i, j] * (v[j] + aV[max(-K, min(K, j - i)) + K])
                               for j in range(Tn)) for i in range(Tn)])
    ours_out = alpha @ v + shaw_value(alpha[None, None], aV, K)[0, 0]
    check("shaw outputs equal the literal formula", torch.allclose(lit_out, ours_out, atol=1e-12))

    # CoPE attention: gradients through the gates (q, k via w) and E.
    Tn, dh, p_max = 6, 3, 2

    def cope_attn(q, k, v, E):
        z = q @ k.transpose(-1, -2) / math.sqrt(dh) + cope_score(q, k, E, p_max)
        z = z.masked_fill(torch.triu(torch.ones(Tn, Tn, dtype=torch.bool), 1), float("-inf"))
        return torch.softmax(z, -1) @ v

    args = (torch.randn(1, 2, Tn, dh, requires_grad=True),
            torch.randn(1, 2, Tn, dh, requires_grad=True),
            torch.randn(1, 2, Tn, dh, requires_grad=True),
            torch.randn(dh, p_max + 1, requires_grad=True))
    with torch.no_grad():
        pos = cope_positions(args[0] @ args[1].transpose(-1, -2) / math.sqrt(dh))
        keep = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool)).expand_as(pos)
    check("gradcheck cope attention (%d of %d positions clamped)"
          % (int((pos[keep] > p_max).sum()), int(keep.sum())),
          torch.autograd.gradcheck(cope_attn, args))

    # CoPE score equals the literal per-pair formula (loops, interpolating vectors e(p)).
    q, k, E = torch.randn(Tn, dh), torch.randn(Tn, dh), torch.randn(dh, p_max + 1)
    ours = cope_score(q[None, None], k[None, None], E, p_max)[0, 0]
    ok = True
    for i in range(Tn):
        g = [torch.sigmoid(q[i] @ k[t] / math.sqrt(dh)).item() for t in range(i + 1)]
        for j in range(i + 1):
            pij = min(sum(g[j:i + 1]), p_max)
            w = pij - math.floor(pij)
            e = w * E[:, math.ceil(pij)] + (1 - w) * E[:, math.floor(pij)]
            ok &= abs((q[i] @ e).item() - ours[i, j].item()) < 1e-12
    check("cope score equals the literal formula", ok)

    # CoPE positions count the gated tokens when gates are 0/1.
    Tn = 6
    gate_open = torch.tensor([[1 if (i + j) % 3 else 0 for j in range(Tn)] for i in range(Tn)])
    z = torch.where(gate_open.bool(), torch.tensor(1e3), torch.tensor(-1e3))
    pos = cope_positions(z)
    want = torch.tensor([[sum(gate_open[i, t].item() for t in range(j, i + 1)) if j <= i else 0
                          for j in range(Tn)] for i in range(Tn)], dtype=torch.float64)
    check("cope positions count gated tokens for 0/1 gates", torch.allclose(pos, want))

    # RoPE: q_i . k_j after rotation depends only on i - j (with every option in play).
    dh = 8
    for opts in [(10000.0, 0, 1.0, 1.0), (100.0, 6, 2.0, 1.0), (100.0, 0, 1.0, 4.0),
                 (50.0, 4, 3.0, 2.0)]:
        Tn = 12
        phi, d_rot = rope_angles(Tn, dh, *opts)
        q, k = torch.randn(dh), torch.randn(dh)
        rq = rope_rotate(q.expand(Tn, dh), phi, d_rot)
        rk = rope_rotate(k.expand(Tn, dh), phi, d_rot)
        S = rq @ rk.T  # S[i, j] for the same q at i and the same k at j
        ok = all(abs(S[i, j] - S[i + s, j + s]) < 1e-12
                 for i in range(Tn) for j in range(Tn) for s in range(1, Tn - max(i, j)))
        ok &= not torch.allclose(S[0, 1], S[0, 2])  # and it does depend on i - j
        norms = torch.allclose(rq.norm(dim=-1), q.norm().expand(Tn))
        check("rope logits depend only on i - j, norms kept (base %g, rotary_dims %d, "
              "interpolation %g, ntk_factor %g)" % opts, ok and norms)

    # ALiBi slopes: powers of two, and the paper's interleaving otherwise.
    check("alibi slopes for 8 heads are 2^-1 .. 2^-8",
          alibi_slopes(8) == [2.0 ** -h for h in range(1, 9)])

    def paper_get_slopes(n):  # Press et al., written as in the paper's repository
        def p2(n):
            start = 2 ** (-2 ** -(math.log2(n) - 3))
            return [start * start ** i for i in range(n)]
        if math.log2(n).is_integer():
            return p2(n)
        c = 2 ** math.floor(math.log2(n))
        return p2(c) + paper_get_slopes(2 * c)[0::2][: n - c]

    s6 = alibi_slopes(6)
    check("alibi slopes for 6 heads are [2^-2, 2^-4, 2^-6, 2^-8, 2^-1, 2^-3] (paper's rule)",
          s6 == [2.0 ** -2, 2.0 ** -4, 2.0 ** -6, 2.0 ** -8, 2.0 ** -1, 2.0 ** -3]
          and np.allclose(s6, paper_get_slopes(6)))
    check("alibi slopes for 3 heads are [2^-4, 2^-8, 2^-2]",
          alibi_slopes(3) == [2.0 ** -4, 2.0 ** -8, 2.0 ** -2]
          and np.allclose(alibi_slopes(3), paper_get_slopes(3)))

    # T5 buckets: a vectorised version in the style of the T5 / HF code agrees with ours,
    # and no bucket sits on a floor() boundary (where float rounding could differ).
    def t5_vectorised(rp, bidirectional, num_buckets, max_distance):
        ret = torch.zeros_like(rp)
        n = -rp
        if bidirectional:
            num_buckets //= 2
            ret = ret + (n < 0).long() * num_buckets
            n = n.abs()
        else:
            n = n.clamp(min=0)
        max_exact = num_buckets // 2
        is_small = n < max_exact
        val = max_exact + (torch.log(n.double().clamp(min=1) / max_exact)
                           / math.log(max_distance / max_exact)
                           * (num_buckets - max_exact)).floor().long()
        val = val.clamp(max=num_buckets - 1)
        return ret + torch.where(is_small, n, val)

    for (nb, md) in [(32, 128), (8, 6)]:
        for bidir in (True, False):
            rp = torch.arange(-200, 201)
            ours = torch.tensor([t5_bucket(int(r), bidir, nb, md) for r in rp])
            check(f"t5 buckets (num_buckets {nb}, max_distance {md}, "
                  f"{'bidirectional' if bidir else 'causal'}) match T5's relative_position_bucket",
                  torch.equal(ours, t5_vectorised(rp, bidir, nb, md)))
    # Fixture buckets spelled out, and no near-integer value inside floor().
    row_c = [t5_bucket(-n, False, 8, 6) for n in range(7)]
    row_b = [t5_bucket(r, True, 8, 6) for r in range(-6, 7)]
    check(f"t5 fixture buckets causal n=0..6 {row_c}", row_c == [0, 1, 2, 3, 4, 6, 7])
    check(f"t5 fixture buckets bidirectional rp=-6..6 {row_b}",
          row_b == [3, 3, 3, 2, 2, 1, 0, 5, 6, 6, 7, 7, 7])
    ok = True
    for nb_half, me in [(8, 4), (4, 2)]:
        for n in range(me, 7):
            s = math.log(n / me) / math.log(6 / me) * (nb_half - me)
            if s < nb_half - me:  # not clamped
                ok &= s == 0 or abs(s - round(s)) > 1e-6
    check("t5 fixture buckets are not on a floor() boundary", ok)

    # Sinusoid table equals the closed form at a few entries.
    P = sinusoid_table(5, 8, 100.0)
    check("sinusoid table matches formula",
          abs(P[3, 4] - math.sin(3 / 100.0 ** (4 / 8))) < 1e-15
          and abs(P[4, 5] - math.cos(4 / 100.0 ** (4 / 8))) < 1e-15 and P[0, 1] == 1.0)

    # Base block (no encoder) equals torch.nn.TransformerEncoderLayer, pre-norm, tanh GELU.
    for causal in (True, False):
        D, H, Fd, Tn = 12, 3, 20, 5
        p = init_model_params(V, D, Fd, 1, tied=True)
        ref = torch.nn.TransformerEncoderLayer(
            D, H, Fd, dropout=0.0, activation=lambda t: F.gelu(t, approximate="tanh"),
            layer_norm_eps=LN_EPS, batch_first=True, norm_first=True)
        ref.train()  # keep the slow (reference) path
        with torch.no_grad():
            ref.self_attn.in_proj_weight.copy_(p["layers.0.attn.qkv.weight"])
            ref.self_attn.in_proj_bias.copy_(p["layers.0.attn.qkv.bias"])
            ref.self_attn.out_proj.weight.copy_(p["layers.0.attn.out.weight"])
            ref.self_attn.out_proj.bias.copy_(p["layers.0.attn.out.bias"])
            ref.norm1.weight.copy_(p["layers.0.ln1.weight"])
            ref.norm1.bias.copy_(p["layers.0.ln1.bias"])
            ref.norm2.weight.copy_(p["layers.0.ln2.weight"])
            ref.norm2.bias.copy_(p["layers.0.ln2.bias"])
            ref.linear1.weight.copy_(p["layers.0.mlp.fc1.weight"])
            ref.linear1.bias.copy_(p["layers.0.mlp.fc1.bias"])
            ref.linear2.weight.copy_(p["layers.0.mlp.fc2.weight"])
            ref.linear2.bias.copy_(p["layers.0.mlp.fc2.bias"])
            x = torch.randn(2, Tn, D)
            mask = torch.triu(torch.ones(Tn, Tn, dtype=torch.bool), 1) if causal else None
            want = ref(x, src_mask=mask)
            got = block(x, p, 0, NoneEncoder({}, {}, causal), H, causal)
        check(f"base block equals torch.nn.TransformerEncoderLayer(norm_first) "
              f"({'causal' if causal else 'bidirectional'})",
              torch.allclose(want, got, atol=1e-12))


def new_scheme_checks():
    """Self-checks of the issue #13 references against the papers' formulas written out
    again as loops, and autograd gradchecks of the learned ones."""
    torch.manual_seed(11)
    Tn, H = 6, 2
    q = torch.randn(1, H, Tn, 4)
    k = torch.randn(1, H, Tn, 4)

    # Kerple: literal per-pair kernel.
    for variant in ("log", "power"):
        enc = KerpleEncoder({"variant": variant}, {"heads": H, "layers": 1}, True)
        enc.init_params()
        got = enc.score_bias(q, k, 0)[0]
        ok = True
        for h in range(H):
            r1 = math.log1p(math.exp(enc.params["encoder.rho1"][h].item()))
            p2 = enc.params["encoder.rho2"][h].item()
            r2 = 2 / (1 + math.exp(-p2)) if variant == "power" else math.log1p(math.exp(p2))
            for i in range(Tn):
                for j in range(Tn):
                    d = abs(i - j)
                    want = -r1 * d ** r2 if variant == "power" else -r1 * math.log(1 + r2 * d)
                    ok &= abs(got[h, i, j].item() - want) < 1e-12
        check(f"kerple {variant} bias equals the literal kernel", ok)
        check(f"gradcheck kerple {variant}", torch.autograd.gradcheck(
            lambda a, b: KerpleWith(variant, a, b).score_bias(q, k, 0),
            (enc.params["encoder.rho1"], enc.params["encoder.rho2"])))

    # Sandwich: the dot product equals the cosine sum, 0 at i = j, negative elsewhere.
    enc = SandwichEncoder({"dim": 8, "base": 100.0}, {"heads": H, "d_model": 8}, True)
    got = enc.score_bias(q, k, 0)[0]
    ok = True
    for h in range(1, H + 1):
        ratio = 8.0 * h / H
        for i in range(Tn):
            for j in range(Tn):
                want = sum(math.cos((i - j) / (ratio * 100.0 ** (2 * m / 8))) for m in range(4)) - 4
                ok &= abs(got[h - 1, i, j].item() - want) < 1e-12
    check("sandwich bias equals sum_k cos((i-j)/(r_h base^(2k/d))) - d/2",
          ok and got.diagonal(dim1=-2, dim2=-1).abs().max() < 1e-12 and
          got[:, ~torch.eye(Tn, dtype=torch.bool)].max() < 0)
    enc = SandwichEncoder({"dim": 8, "base": 100.0, "head_scaling": "divide", "first_frequency": 1},
                          {"heads": H, "d_model": 8}, True)
    got = enc.score_bias(q, k, 0)[0]
    ok = True
    for h in range(1, H + 1):
        ratio = 8.0 * h / H
        for i in range(Tn):
            for j in range(Tn):
                want = (sum(math.cos((i - j) / 100.0 ** (2 * m / 8)) for m in range(1, 5)) - 4) / ratio
                ok &= abs(got[h - 1, i, j].item() - want) < 1e-12
    check("sandwich divide bias equals (sum_{k=1..d/2} cos((i-j)/base^(2k/d)) - d/2) / r_h", ok)

    # FIRE: literal per-pair MLP; gradcheck through c, L and the MLP.
    enc = FireEncoder({"hidden": 3, "c_init": 0.8, "L_init": 2.5}, {"heads": H, "layers": 1},
                      True)
    enc.init_params()
    got = enc.score_bias(q, k, 0)[0]
    P = enc.params
    c = 0.8 * math.exp(P["encoder.layers.0.log_c"].item())
    Lt = 2.5 * math.exp(P["encoder.layers.0.log_L"].item())
    ok = True
    for i in range(Tn):
        for j in range(Tn):
            x = math.log(c * abs(i - j) + 1) / math.log(c * max(Lt, i) + 1)
            hdn = torch.relu(P["encoder.layers.0.fc1.weight"][:, 0] * x + P["encoder.layers.0.fc1.bias"])
            want = P["encoder.layers.0.fc2.weight"] @ hdn
            ok &= (got[:, i, j] - want).abs().max().item() < 1e-12
    check("fire bias equals the literal MLP of psi(|i-j|)/psi(max(L,i))", ok)
    names = list(P)
    check("gradcheck fire", torch.autograd.gradcheck(
        lambda *vals: FireWith(enc, names, vals).score_bias(q, k, 0), tuple(P[n] for n in names)))

    # xPos with gamma -> infinity is RoPE; logits depend only on i - j.
    qx, kx = torch.randn(1, 1, Tn, 8), torch.randn(1, 1, Tn, 8)
    xq, xk = XposEncoder({"gamma": 1e12, "scale_base": 2.0}, {}, True).rotate_qk(qx, kx, 0)
    phi, d_rot = rope_angles(Tn, 8, 10000.0, 0, 1.0, 1.0)
    check("xpos with gamma 1e12 equals rope",
          torch.allclose(xq, rope_rotate(qx, phi, d_rot), atol=1e-10)
          and torch.allclose(xk, rope_rotate(kx, phi, d_rot), atol=1e-10))
    qs = torch.randn(8).expand(1, 1, Tn, 8)
    ks = torch.randn(8).expand(1, 1, Tn, 8)
    xq, xk = XposEncoder({"gamma": 0.4, "scale_base": 3.0}, {}, True).rotate_qk(qs, ks, 0)
    S = (xq @ xk.transpose(-1, -2))[0, 0]
    check("xpos logits depend only on i - j",
          all(abs(S[i, j] - S[i + 1, j + 1]) < 1e-12 for i in range(Tn - 1) for j in range(Tn - 1)))

    # Transformer-XL: literal a_ij (minus q.k) per (i, j), with R_{i-j} from the formula.
    D = 8
    enc = TransformerXlEncoder({"base": 100.0}, {"heads": H, "d_model": D, "layers": 1}, False)
    enc.init_params()
    got = enc.score_bias(q, k, 0)[0]
    W, u, v = (enc.params["encoder.layers.0." + n] for n in ("W_R", "u", "v"))
    ok = True
    for h in range(H):
        for i in range(Tn):
            for j in range(Tn):
                Rr = torch.tensor([math.sin((i - j) / 100.0 ** (2 * (c_ // 2) / D)) if c_ % 2 == 0
                                   else math.cos((i - j) / 100.0 ** (2 * (c_ // 2) / D))
                                   for c_ in range(D)])
                kr = (W @ Rr)[h * 4:(h + 1) * 4]
                want = (q[0, h, i] @ kr + u[h] @ k[0, h, j] + v[h] @ kr) / 2.0
                ok &= abs(got[h, i, j].item() - want.item()) < 1e-12
    check("transformer_xl bias equals the literal terms (b) + (c) + (d)", ok)

    # YaRN: high frequencies kept, low ones divided by s, temperature 0.1 ln s + 1.
    theta, _ = yarn_theta(16, 10000.0, 0, 4.0, 64, 1.0, 32.0)
    plain = 10000.0 ** (-2.0 * torch.arange(8, dtype=torch.float64) / 16)
    turns = 64 / (2 * math.pi / plain)
    check("yarn keeps pairs turning > beta times, interpolates those < alpha",
          torch.allclose(theta[turns > 32], plain[turns > 32])
          and torch.allclose(theta[turns < 1], plain[turns < 1] / 4.0)
          and bool(((theta <= plain) & (theta >= plain / 4.0)).all()))


class KerpleWith(KerpleEncoder):
    def __init__(self, variant, rho1, rho2):
        super().__init__({"variant": variant}, {"heads": rho1.shape[0]}, True)
        self.params = {"encoder.rho1": rho1, "encoder.rho2": rho2}


class FireWith(FireEncoder):
    def __init__(self, like, names, values):
        super().__init__(like.cfg, like.dims, like.causal)
        self.params = dict(zip(names, values))


def cope_paper_baseline_checks():
    """Self-checks of the issue #16 references: the relative baseline and CoPE's released-code
    scaling against their formulas written out again as loops."""
    torch.manual_seed(16)
    Tn, H, dh, M = 7, 2, 4, 4
    q, k = torch.randn(1, H, Tn, dh), torch.randn(1, H, Tn, dh)

    # relative: logit bias q_i.e[min(i - j, M - 1)] / sqrt(dh), the same table in every layer
    # when shared, another per layer when not.
    for shared in (True, False):
        enc = RelativeEncoder({"max_distance": M, "shared_across_layers": shared},
                              {"d_model": H * dh, "heads": H, "layers": 2}, True)
        enc.init_params()
        ok = True
        for layer in (0, 1):
            got = enc.score_bias(q, k, layer)[0]
            E = enc.params[enc.table_name(layer)]
            for h in range(H):
                for i in range(Tn):
                    for j in range(i + 1):
                        want = (q[0, h, i] @ E[min(i - j, M - 1)]).item() / math.sqrt(dh)
                        ok &= abs(got[h, i, j].item() - want) < 1e-12
        same = torch.equal(enc.score_bias(q, k, 0), enc.score_bias(q, k, 1))
        check(f"relative (shared_across_layers {shared}) equals the literal formula; layers "
              f"{'share' if shared else 'differ'}", ok and same == shared)

    # relative: the bias depends on i - j only (Toeplitz in (i, j) for a fixed query vector).
    enc = RelativeEncoder({"max_distance": 5}, {"d_model": H * dh, "heads": H, "layers": 1}, True)
    enc.init_params()
    qc = torch.randn(dh).expand(1, H, Tn, dh)  # the same query at every position
    b = enc.score_bias(qc, k, 0)[0]
    ok = all(abs(b[h, i, j].item() - b[h, i + 1, j + 1].item()) < 1e-14
             for h in range(H) for i in range(Tn - 1) for j in range(i + 1))
    check("relative bias depends only on i - j", ok)

    # CoPE, released code: (q.k + q.e) / sqrt(dh) written out per pair.
    p_max = 3
    qq, kk, E = torch.randn(Tn, dh), torch.randn(Tn, dh), torch.randn(dh, p_max + 1)
    ours = cope_score(qq[None, None], kk[None, None], E, p_max, divide=True)[0, 0]
    ok = True
    for i in range(Tn):
        g = [torch.sigmoid(qq[i] @ kk[t] / math.sqrt(dh)).item() for t in range(i + 1)]
        for j in range(i + 1):
            pij = min(sum(g[j:i + 1]), p_max)
            w = pij - math.floor(pij)
            e = w * E[:, math.ceil(pij)] + (1 - w) * E[:, math.floor(pij)]
            released = (qq[i] @ kk[j] + qq[i] @ e).item() / math.sqrt(dh)
            z = (qq[i] @ kk[j]).item() / math.sqrt(dh)
            ok &= abs(z + ours[i, j].item() - released) < 1e-12
    check("cope divide_position_logits equals (q.k + q.e)/sqrt(dh) per pair", ok)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "parity"))
    ap.add_argument("--only", nargs="*", metavar="FIXTURE",
                    help="write only these fixtures (names like kerple_causal); the seeds do "
                         "not depend on which are written")
    args = ap.parse_args()

    print(f"torch {torch.__version__}, float64")
    self_checks()
    new_scheme_checks()
    cope_paper_baseline_checks()

    os.makedirs(args.out, exist_ok=True)
    for index, (name, kind, opts, D, H, tied) in enumerate(FIXTURES):
        if args.only is not None and f"{name}_{kind}" not in args.only:
            continue
        fx = build_fixture(index, name, kind, opts, D, H, tied)
        path = write_fixture(fx, args.out)
        n_params = verify_fixture(path)
        if name in ("cope", "cope_released"):
            clamped, fractional, total = cope_fixture_stats(fx)
            check(f"cope fixture layer 0: {clamped} of {total} positions clamped to p_max, "
                  f"{fractional} fractional", clamped > 0 and fractional > 0)
        print(f"wrote {os.path.relpath(path)} ({n_params} parameters, reloaded and "
              f"re-derived exactly)  loss {fx['loss'].item():.6f}  "
              f"model {fx['model_yaml']}  encoder {fx['encoder_yaml']}")


if __name__ == "__main__":
    main()
