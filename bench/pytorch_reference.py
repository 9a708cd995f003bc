#!/usr/bin/python3
"""PyTorch twin of `poslab bench`: the same model, optimizer and shapes, timed the same way.

Runs with Debian's interpreter (/usr/bin/python3, which has python3-torch); the first
`python3` on PATH may be another interpreter without torch.

Model (as src/model/transformer.cpp with the bench's settings): pre-norm GPT-2 layout,
token embedding + learned absolute position table (max_length = T), per layer
LN(eps 1e-5) -> fused qkv Linear (bias) -> causal softmax attention (explicit matmul and
masked softmax) -> out Linear (bias) -> residual, LN -> fc1 (bias) -> GELU(tanh) -> fc2
(bias) -> residual; final LN; untied head without bias. Loss: mean cross-entropy over all
positions. AdamW(lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight_decay 0.01 on matrices
only: qkv, out, fc1, fc2, head), global gradient-norm clip 1.0. Random tokens, float32.

FLOPs per training step: counted by poslab itself (`poslab bench --step-flops` with the
same shape; the formula is src/model/step_flops.h, explained in bench/README.md), so that
both sides of the comparison divide by the same number. --poslab names the binary
(default build/poslab).

The last line printed is machine-readable:
    RESULT tokens_per_second=... ms_per_step=... gflops=... peak_rss_mib=... threads=... steps=...
"""
import argparse
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from blas_info import blas_library

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - depends on the interpreter
    sys.exit("pytorch_reference.py: torch not importable by %s; run it with /usr/bin/python3 "
             "(Debian's python3-torch; scripts/setup.sh --python installs it)" % sys.executable)


def step_flops(poslab, a):
    """FLOPs of one training step of this shape, as `poslab bench` counts them."""
    cmd = [poslab, "bench", "--step-flops", "--batch", str(a.batch), "--seq-len", str(a.seq_len),
           "--d-model", str(a.d_model), "--layers", str(a.layers), "--heads", str(a.heads),
           "--d-ff", str(a.d_ff), "--vocab", str(a.vocab)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        sys.exit("pytorch_reference.py: --poslab: cannot run %s (%s): expected the poslab binary "
                 "(build it first)" % (poslab, e.strerror))
    if done.returncode != 0:
        sys.exit("pytorch_reference.py: %s: %s" % (" ".join(cmd), done.stderr.strip()))
    return float(done.stdout.split()[0])


class Block(nn.Module):
    def __init__(self, d, heads, d_ff, init_std, resid_std):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, d_ff)
        self.fc2 = nn.Linear(d_ff, d)
        for lin, std in ((self.qkv, init_std), (self.out, resid_std), (self.fc1, init_std),
                         (self.fc2, resid_std)):
            nn.init.normal_(lin.weight, 0.0, std)
            nn.init.zeros_(lin.bias)

    def attention(self, x, mask):
        B, T, D = x.shape
        H = self.heads
        dh = D // H
        # qkv row layout as in poslab: [q | k | v], head h at columns h*dh .. h*dh+dh-1
        qkv = self.qkv(x).view(B, T, 3, H, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                               # [B, H, T, dh]
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))  # [B, H, T, T]
        scores = scores.masked_fill(mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        heads_out = torch.matmul(probs, v)                            # [B, H, T, dh]
        return self.out(heads_out.transpose(1, 2).reshape(B, T, D))

    def forward(self, x, mask):
        x = x + self.attention(self.ln1(x), mask)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class Transformer(nn.Module):
    def __init__(self, vocab, d, layers, heads, d_ff, max_length, init_std=0.02):
        super().__init__()
        resid_std = init_std / math.sqrt(2.0 * layers)
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.empty(max_length, d))  # learned absolute positions
        nn.init.normal_(self.tok_emb.weight, 0.0, init_std)
        nn.init.normal_(self.pos, 0.0, init_std)
        self.blocks = nn.ModuleList(
            [Block(d, heads, d_ff, init_std, resid_std) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.head = nn.Linear(d, vocab, bias=False)  # untied
        nn.init.normal_(self.head.weight, 0.0, init_std)
        causal = torch.ones(max_length, max_length, dtype=torch.bool).triu(1)
        self.register_buffer("causal_mask", causal, persistent=False)  # True = masked

    def forward(self, ids):
        T = ids.shape[1]
        x = self.tok_emb(ids) + self.pos[:T]
        mask = self.causal_mask[:T, :T]
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln_f(x))

    def decayed_parameters(self):
        """Matrices of the linear layers and the head: the tensors poslab decays."""
        decayed = [self.head.weight]
        for b in self.blocks:
            decayed += [b.qkv.weight, b.out.weight, b.fc1.weight, b.fc2.weight]
        return decayed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=32, help="batch size")
    p.add_argument("--seq-len", type=int, default=128, help="sequence length")
    p.add_argument("--d-model", type=int, default=128, help="model width")
    p.add_argument("--layers", type=int, default=4, help="layers")
    p.add_argument("--heads", type=int, default=4, help="heads")
    p.add_argument("--d-ff", type=int, default=512, help="MLP width")
    p.add_argument("--vocab", type=int, default=64, help="vocabulary size")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--threads", type=int, default=0,
                   help="intra-op threads (default 0: torch's default)")
    p.add_argument("--max-seconds", type=float, default=0,
                   help="stop timing once this many seconds have passed and at least 2 steps "
                        "ran (0 = always run --steps); the steps actually timed are reported")
    p.add_argument("--poslab", default=str(Path(__file__).resolve().parents[1] / "build" / "poslab"),
                   help="the poslab binary that counts the FLOPs of a step (default build/poslab)")
    a = p.parse_args(argv)
    if a.d_model % a.heads != 0:
        p.error("--heads: expected a divisor of --d-model")
    if min(a.batch, a.seq_len, a.d_model, a.layers, a.heads, a.d_ff, a.vocab, a.steps) < 1:
        p.error("sizes and --steps must be positive")
    flops = step_flops(a.poslab, a)  # before any work: a missing binary fails at once

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    torch.set_default_dtype(torch.float32)

    model = Transformer(a.vocab, a.d_model, a.layers, a.heads, a.d_ff, max_length=a.seq_len)
    decayed = {id(t) for t in model.decayed_parameters()}
    groups = [
        {"params": [t for t in model.parameters() if id(t) in decayed], "weight_decay": 0.01},
        {"params": [t for t in model.parameters() if id(t) not in decayed], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq_len))
    targets = torch.randint(0, a.vocab, (a.batch, a.seq_len))

    def step():
        logits = model(ids)
        loss = F.cross_entropy(logits.view(-1, a.vocab), targets.view(-1))  # mean over B*T
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    print("pytorch reference: B=%d T=%d d_model=%d layers=%d heads=%d d_ff=%d vocab=%d, "
          "%d timed steps (max %gs), %d warmup" % (a.batch, a.seq_len, a.d_model, a.layers,
                                                   a.heads, a.d_ff, a.vocab, a.steps,
                                                   a.max_seconds, a.warmup))
    for _ in range(a.warmup):
        step()
    done = 0
    start = time.perf_counter()
    while done < a.steps:
        loss = step()
        done += 1
        if a.max_seconds > 0 and done >= 2 and time.perf_counter() - start > a.max_seconds:
            break
    seconds = time.perf_counter() - start

    N = a.batch * a.seq_len
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    print("torch %s, %d threads, BLAS: %s" % (torch.__version__, torch.get_num_threads(),
                                              blas_library()))
    print("step FLOPs (model/step_flops.h formula): %.4g; last loss %.4f" % (flops, loss.item()))
    print("RESULT tokens_per_second=%.1f ms_per_step=%.3f gflops=%.3f peak_rss_mib=%.1f "
          "threads=%d steps=%d" % (N * done / seconds, 1000 * seconds / done,
                                   flops * done / seconds / 1e9, peak_rss_mib,
                                   torch.get_num_threads(), done))


if __name__ == "__main__":
    main()
