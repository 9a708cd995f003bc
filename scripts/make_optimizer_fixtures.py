#!/usr/bin/python3
"""PyTorch reference for poslab's optimizer tests.

Writes to tests/fixtures/optimizer/:
  adamw_steps.h5        torch.optim.AdamW on two small tensors (one decayed, one not) for
                        several steps with given gradients and learning rates;
  first_losses_*.h5     llm.c-style: a tiny transformer (the model of
                        make_parity_fixtures.py) trained 10 steps on fixed batches with
                        torch.optim.AdamW, linear warm-up + cosine/constant schedule and
                        torch.nn.utils.clip_grad_norm_; the 10 losses, pre-clip gradient
                        norms, learning rates and the final weights.
The C++ tests (tests/f64/adamw_test.cpp, tests/f64/first_losses_test.cpp) repeat the same
steps in poslab's double build and compare.

The schedule and which tensors are decayed are written here from docs/design.md
("Optimizer, schedule and clipping"), not from the C++ sources.

Usage (Debian's python3-torch, numpy, h5py):
    /usr/bin/python3 scripts/make_optimizer_fixtures.py [--out tests/fixtures/optimizer]
Deterministic: rerunning gives the same numbers.
"""

import argparse
import math
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_parity_fixtures as ref  # noqa: E402  (the float64 reference transformer)

torch.set_default_dtype(torch.float64)
SEED = 20251203


def check(label, ok):
    print(("ok    " if ok else "FAIL  ") + label)
    if not ok:
        sys.exit(1)


def learning_rate(step, total, warmup, lr, min_ratio, cosine):
    """docs/design.md: lr·(s+1)/W for s < W; then constant lr, or cosine from lr at s = W to
    lr·min_ratio at s = total: min + (lr − min)·(1 + cos(π·p))/2, p = min(1, (s − W)/max(1, total − W))."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if not cosine:
        return lr
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    lo = lr * min_ratio
    return lo + 0.5 * (lr - lo) * (1.0 + math.cos(math.pi * p))


def decayed(name):
    """AdamW decays the matrices of the blocks and an untied head; not embeddings, norms,
    biases or position tables."""
    return name.endswith(("attn.qkv.weight", "attn.out.weight", "mlp.fc1.weight",
                          "mlp.fc2.weight")) or name == "head.weight"


def write_atomically(path, writer):
    tmp = path + ".tmp"  # written then renamed: a failure leaves no half-written fixture
    try:
        with h5py.File(tmp, "w") as f:
            writer(f)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------
# AdamW alone: given gradients, given learning rates.
# ---------------------------------------------------------------------------------------

ADAMW = {"beta1": 0.8, "beta2": 0.9, "eps": 1e-6, "weight_decay": 0.1}
ADAMW_LRS = [0.01, 0.03, 0.02, 0.005, 0.04, 0.015]


def adamw_by_hand(w0, grads, lrs, decay, c):
    """The update of Loshchilov & Hutter with PyTorch's conventions, in numpy:
    w ← w(1 − lr·λ) − lr·m̂/(√v̂ + ε), m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t)."""
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    out = []
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = c["beta1"] * m + (1 - c["beta1"]) * g
        v = c["beta2"] * v + (1 - c["beta2"]) * g * g
        mhat = m / (1 - c["beta1"] ** t)
        vhat = v / (1 - c["beta2"] ** t)
        w = w * (1 - lr * c["weight_decay"] * decay) - lr * mhat / (np.sqrt(vhat) + c["eps"])
        out.append(w.copy())
    return out, m, v


def make_adamw_fixture(out_dir):
    torch.manual_seed(SEED)
    shapes = {"matrix": (3, 4), "bias": (5,)}
    init = {n: torch.randn(*s) for n, s in shapes.items()}
    steps = len(ADAMW_LRS)
    grads = {n: torch.randn(steps, *s) for n, s in shapes.items()}
    # Entries of the size of eps (where its placement matters), one exact zero gradient
    # throughout (the update of that entry is weight decay alone), one sign flip.
    grads["matrix"][:, 0, 0] *= 1e-6
    grads["bias"][:, 1] = 0.0
    grads["bias"][:, 2] *= 3e-6
    grads["matrix"][3, 2, 1] = -grads["matrix"][2, 2, 1]

    params = {n: t.clone().requires_grad_(True) for n, t in init.items()}
    opt = torch.optim.AdamW(
        [{"params": [params["matrix"]], "weight_decay": ADAMW["weight_decay"]},
         {"params": [params["bias"]], "weight_decay": 0.0}],
        lr=ADAMW_LRS[0], betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"])
    after = {n: [] for n in shapes}
    for s, lr in enumerate(ADAMW_LRS):
        for group in opt.param_groups:
            group["lr"] = lr
        for n in shapes:
            params[n].grad = grads[n][s].clone()
        opt.step()
        for n in shapes:
            after[n].append(params[n].detach().clone())
    for n in shapes:
        by_hand, m, v = adamw_by_hand(init[n].numpy(), grads[n].numpy(), ADAMW_LRS,
                                      1.0 if n == "matrix" else 0.0, ADAMW)
        err = max(np.abs(a.numpy() - b).max() / np.abs(b).max() for a, b in zip(after[n], by_hand))
        check(f"torch AdamW = the update written out, {n}: max relative error {err:.1e}",
              err < 1e-14)
        state = opt.state[params[n]]
        check(f"torch AdamW moments = written out, {n}",
              np.allclose(state["exp_avg"].numpy(), m, rtol=1e-14, atol=0) and
              np.allclose(state["exp_avg_sq"].numpy(), v, rtol=1e-14, atol=0))

    def writer(f):
        for k, v in ADAMW.items():
            f.attrs[k] = np.float64(v)
        f.attrs["decayed"] = "matrix"
        f.attrs["torch_version"] = str(torch.__version__)
        f.create_dataset("lr", data=np.array(ADAMW_LRS, dtype=np.float64))
        for n in shapes:
            f.create_dataset(f"initial/{n}", data=init[n].numpy())
            f.create_dataset(f"grads/{n}", data=grads[n].numpy())
            f.create_dataset(f"after/{n}", data=torch.stack(after[n]).numpy())
            state = opt.state[params[n]]
            f.create_dataset(f"exp_avg/{n}", data=state["exp_avg"].numpy())
            f.create_dataset(f"exp_avg_sq/{n}", data=state["exp_avg_sq"].numpy())

    path = os.path.join(out_dir, "adamw_steps.h5")
    write_atomically(path, writer)
    print(f"wrote {os.path.relpath(path)} ({steps} steps)")


# ---------------------------------------------------------------------------------------
# The first 10 losses of a tiny model (llm.c's test_gpt2 check, in float64).
# ---------------------------------------------------------------------------------------

STEPS, B, T, V = 10, 4, 8, 11

# (name, encoder options, kind, d_model, heads, tied, training settings). grad_clip is set
# so that some steps are clipped and others not (checked below).
FIRST_LOSSES = [
    ("learned_causal", {"name": "learned", "max_length": 10}, "causal", 16, 2, False,
     {"steps": STEPS, "lr": 0.02, "warmup_steps": 3, "schedule": "cosine", "min_lr_ratio": 0.1,
      "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "grad_clip": 2.5}),
    ("sinusoidal_bidirectional", {"name": "sinusoidal", "base": 100.0}, "bidirectional",
     16, 2, True,
     {"steps": STEPS, "lr": 0.01, "warmup_steps": 2, "schedule": "constant",
      "min_lr_ratio": 0.1, "weight_decay": 0.2, "beta1": 0.85, "beta2": 0.99, "eps": 1e-7,
      "grad_clip": 1.7}),
]


def train_twin(params, enc, H, causal, batches, ts, clip):
    """10 steps of: loss → backward → clip_grad_norm_ → lr of the schedule → AdamW.step."""
    names = list(params)
    opt = torch.optim.AdamW(
        [{"params": [params[n] for n in names if decayed(n)], "weight_decay": ts["weight_decay"]},
         {"params": [params[n] for n in names if not decayed(n)], "weight_decay": 0.0}],
        lr=ts["lr"], betas=(ts["beta1"], ts["beta2"]), eps=ts["eps"])
    losses, norms, lrs = [], [], []
    for step, (ids, targets, mask) in enumerate(batches):
        opt.zero_grad(set_to_none=False)
        loss = ref.masked_loss(ref.forward(ids, params, enc, ref.L, H, causal), targets, mask)
        loss.backward()
        for n in names:  # parameters nothing reads (unused table rows) still get a gradient of 0
            if params[n].grad is None:
                params[n].grad = torch.zeros_like(params[n])
        norm = torch.nn.utils.clip_grad_norm_([params[n] for n in names], clip)
        lr = learning_rate(step, ts["steps"], ts["warmup_steps"], ts["lr"], ts["min_lr_ratio"],
                           ts["schedule"] == "cosine")
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
        lrs.append(lr)
    return losses, norms, lrs


def build_model(index, enc_opts, kind, D, H, tied):
    torch.manual_seed(SEED + 1 + index)
    causal = kind == "causal"
    dims = {"d_model": D, "heads": H, "layers": ref.L}
    opts = {k: v for k, v in enc_opts.items() if k != "name"}
    enc = ref.ENCODERS[enc_opts["name"]](opts, dims, causal)
    params = ref.init_model_params(V, D, ref.F_, ref.L, tied)
    enc.init_params()
    params.update(enc.params)
    batches = []
    for _ in range(STEPS):
        ids = torch.randint(0, V, (B, T))
        targets = torch.randint(0, V, (B, T))
        mask = (torch.rand(B, T) < 0.75).long()
        mask[0, 0] = 1  # never an empty batch
        batches.append((ids, targets, mask))
    return params, enc, batches


def make_first_losses_fixture(index, out_dir):
    name, enc_opts, kind, D, H, tied, ts = FIRST_LOSSES[index]
    causal = kind == "causal"
    params, enc, batches = build_model(index, enc_opts, kind, D, H, tied)
    initial = {n: t.detach().clone() for n, t in params.items()}
    losses, norms, lrs = train_twin(params, enc, H, causal, batches, ts, ts["grad_clip"])

    # The fixture must exercise each piece: clipping on some steps and not on others (and
    # no norm so close to the threshold that the clip's 1e-6 in the divisor decides),
    # weight decay, the warm-up, and a loss that moves.
    clipped = sum(nrm > ts["grad_clip"] for nrm in norms)
    check(f"{name}: {clipped} of {STEPS} steps clipped (norms {min(norms):.3f}..{max(norms):.3f}, "
          f"threshold {ts['grad_clip']})", 2 <= clipped <= STEPS - 2)
    check(f"{name}: no norm within 1e-3 of the threshold",
          min(abs(nrm / ts["grad_clip"] - 1) for nrm in norms) > 1e-3)
    check(f"{name}: loss {losses[0]:.4f} -> {losses[-1]:.4f}", abs(losses[-1] - losses[0]) > 0.05)
    check(f"{name}: both decayed and undecayed tensors",
          any(decayed(n) for n in params) and any(not decayed(n) for n in params))

    # Rerun from copies of the initial weights: the twin is deterministic.
    again = {n: t.clone().requires_grad_(True) for n, t in initial.items()}
    enc.params = {n: again[n] for n in enc.params}
    losses2, norms2, _ = train_twin(again, enc, H, causal, batches, ts, ts["grad_clip"])
    check(f"{name}: rerun gives the same losses bit for bit", losses2 == losses and norms2 == norms)

    model = {"layers": ref.L, "d_model": D, "heads": H, "d_ff": ref.F_,
             "tied_embeddings": tied, "attention": kind}

    def writer(f):
        f.attrs["model_yaml"] = ref.yaml_flow(model)
        f.attrs["encoder_yaml"] = ref.yaml_flow(enc_opts)
        f.attrs["train_yaml"] = ref.yaml_flow(ts)
        f.attrs["vocab_size"] = np.int64(V)
        f.attrs["torch_version"] = str(torch.__version__)
        f.create_dataset("inputs", data=torch.stack([b[0] for b in batches]).numpy().astype(np.int64))
        f.create_dataset("targets", data=torch.stack([b[1] for b in batches]).numpy().astype(np.int64))
        f.create_dataset("loss_mask", data=torch.stack([b[2] for b in batches]).numpy().astype(np.int64))
        f.create_dataset("losses", data=np.array(losses, dtype=np.float64))
        f.create_dataset("grad_norms", data=np.array(norms, dtype=np.float64))
        f.create_dataset("lr", data=np.array(lrs, dtype=np.float64))
        for n in params:
            f.create_dataset(f"params/{n}", data=initial[n].numpy())
            f.create_dataset(f"final/{n}", data=params[n].detach().numpy())

    path = os.path.join(out_dir, f"first_losses_{name}.h5")
    write_atomically(path, writer)
    print(f"wrote {os.path.relpath(path)}  losses {losses[0]:.6f} .. {losses[-1]:.6f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "optimizer"))
    args = ap.parse_args()
    print(f"torch {torch.__version__}, float64")
    os.makedirs(args.out, exist_ok=True)
    make_adamw_fixture(args.out)
    for index in range(len(FIRST_LOSSES)):
        make_first_losses_fixture(index, args.out)


if __name__ == "__main__":
    main()
