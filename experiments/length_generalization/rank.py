#!/usr/bin/python3
"""Ranks the schemes of the length-generalization study by how much they keep beyond the
training length: the mean token accuracy over the evaluation lengths longer than the
training length (16, 24, 32), averaged over seeds, per task and over the three tasks.
Exact match beyond L is zero for most schemes on copy and reverse, so token accuracy is
the finer measure; the exact match at 2L is printed beside it.

    /usr/bin/python3 experiments/length_generalization/rank.py [RESULTS_DIR]
"""
import re
import sys
from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np

results = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results")
beyond = defaultdict(list)   # (scheme, task) -> [mean token accuracy beyond L, per seed]
em_2l = defaultdict(list)    # (scheme, task) -> [exact match at 2L, per seed]
for path in sorted(results.glob("*.h5")):
    with h5py.File(path, "r") as f:
        name = f.attrs["run_name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        scheme, task = re.match(r"(.+?)__name-(.+?)(?:__|$)", name).groups()
        lengths = f["eval/length"][()]
        train_length = f["probes/extrapolation"].attrs["train_length"]
        acc, em = f["eval/token_accuracy"][()], f["eval/exact_match"][()]
        beyond[scheme, task].append(float(acc[lengths > train_length].mean()))
        em_2l[scheme, task].append(float(em[lengths == 2 * train_length][0]))
if not beyond:
    sys.exit(f"rank.py: no results in {results}")

tasks = sorted({t for _, t in beyond})
schemes = sorted({s for s, _ in beyond})
overall = {s: np.mean([np.mean(beyond[s, t]) for t in tasks]) for s in schemes}
print("rank  scheme      " + "".join(f"{t + ' acc>L':>16}{t + ' EM@2L':>15}" for t in tasks) + "   mean acc>L")
for rank, s in enumerate(sorted(schemes, key=lambda s: -overall[s]), 1):
    cells = "".join(f"{np.mean(beyond[s, t]):16.3f}{np.mean(em_2l[s, t]):15.3f}" for t in tasks)
    print(f"{rank:>4}  {s:<10}  {cells}   {overall[s]:10.3f}")
print(f"(seeds per cell: {min(len(v) for v in beyond.values())}–{max(len(v) for v in beyond.values())})")
