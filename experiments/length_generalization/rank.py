#!/usr/bin/python3
"""Ranks the schemes of the length-generalization study by Kazemnejad et al.'s metric:
exact match beyond the training length L — at the evaluated lengths in (L, 2L], the
paper's test range — averaged only over the seeds that solved the task in distribution
(exact match at L of at least --solved, 0.9 by default). Token accuracy over the same
seeds and lengths is the secondary column. A scheme with no solving seed on a task shows
"-" there and counts 0 in the mean over tasks (what it never learned at L it does not
generalize), which orders the ranking; ties are broken by the mean token accuracy.

Why a threshold: the authors' released aggregation (McGill-NLP/length-generalization,
notebooks/plot_aggregate_final.ipynb, get_mrr_df) ranks every seed's test accuracy and
states no rule for "solved"; an in-distribution exact match of 0.9 keeps seeds that
learned the task and drops those that did not (e.g. NoPE on copy, 0.27 at L), so a
scheme is not credited with a failure to generalize something it never learned.

    /usr/bin/python3 experiments/length_generalization/rank.py [RESULTS_DIR] [--solved 0.9]
"""
import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np


def read_run(path):
    """(scheme, task, per-seed record) of one results file, or None if it is not a run of
    this study. The record holds exact match at L and the means over (L, 2L]."""
    with h5py.File(path, "r") as f:
        if "eval/length" not in f or "probes/extrapolation" not in f:
            return None
        name = f.attrs["run_name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        match = re.match(r"(.+?)__name-(.+?)(?:__|$)", name)
        if not match:
            return None
        status = f.attrs.get("status", "complete")
        status = status.decode() if isinstance(status, bytes) else str(status)
        lengths = f["eval/length"][()]
        train_length = float(f["probes/extrapolation"].attrs["train_length"])
        em, acc = f["eval/exact_match"][()], f["eval/token_accuracy"][()]
    inside = lengths <= train_length
    beyond = (lengths > train_length) & (lengths <= 2 * train_length)
    if not inside.any() or not beyond.any():
        sys.exit(f"rank.py: {path}: need an evaluation length <= L and one in (L, 2L], "
                 f"L = {train_length:g}, got {lengths.tolist()}")
    em_at_l = float(em[inside][np.argmax(lengths[inside])])
    return match.group(1), match.group(2), {
        "diverged": status == "diverged" or not np.isfinite(em_at_l),
        "em_at_l": em_at_l,
        "em_beyond": float(em[beyond].mean()),
        "acc_beyond": float(acc[beyond].mean()),
    }


def collect(results):
    """{(scheme, task): [record per seed]} of every results file in the folder."""
    runs = defaultdict(list)
    for path in sorted(Path(results).glob("*.h5")):
        read = read_run(path)
        if read:
            runs[read[0], read[1]].append(read[2])
    return runs


def summarize(runs, solved):
    """{(scheme, task): cell}: seeds, solving seeds, and EM / accuracy beyond L over the
    solving seeds (None when no seed solved the task at L)."""
    cells = {}
    for key, seeds in runs.items():
        ok = [s for s in seeds if not s["diverged"] and s["em_at_l"] >= solved]
        cells[key] = {
            "seeds": len(seeds),
            "solved": len(ok),
            "em_beyond": float(np.mean([s["em_beyond"] for s in ok])) if ok else None,
            "em_sd": float(np.std([s["em_beyond"] for s in ok], ddof=1)) if len(ok) > 1 else None,
            "acc_beyond": float(np.mean([s["acc_beyond"] for s in ok])) if ok else None,
        }
    return cells


def rank(cells):
    """[(scheme, mean EM beyond L over tasks, mean accuracy, tasks solved)], best first."""
    tasks = sorted({t for _, t in cells})
    rows = []
    for scheme in sorted({s for s, _ in cells}):
        got = [cells.get((scheme, t)) for t in tasks]
        em = np.mean([c["em_beyond"] if c and c["em_beyond"] is not None else 0.0 for c in got])
        acc = np.mean([c["acc_beyond"] if c and c["acc_beyond"] is not None else 0.0 for c in got])
        rows.append((scheme, float(em), float(acc), sum(1 for c in got if c and c["solved"])))
    return sorted(rows, key=lambda r: (-r[1], -r[2], r[0]))


def cell_text(cell):
    if cell is None:
        return "(no runs)"
    if cell["em_beyond"] is None:
        return f"- (0/{cell['seeds']})"
    return f"{cell['em_beyond']:.3f} / {cell['acc_beyond']:.2f} ({cell['solved']}/{cell['seeds']})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--solved", type=float, default=0.9,
                        help="exact match at L from which a seed counts as solving the task (0.9)")
    args = parser.parse_args(argv)
    runs = collect(args.results)
    if not runs:
        sys.exit(f"rank.py: no results in {args.results}")
    cells = summarize(runs, args.solved)
    tasks = sorted({t for _, t in cells})
    width = 26
    print(f"cells: exact match / token accuracy beyond L (lengths in (L, 2L]), over the seeds "
          f"with exact match >= {args.solved:g} at L (solving/all seeds); '-': no seed solved it")
    print("rank  scheme           " + "".join(f"{t:>{width}}" for t in tasks) + "   mean EM>L  acc>L  solved")
    for i, (scheme, em, acc, solved) in enumerate(rank(cells), 1):
        row = "".join(f"{cell_text(cells.get((scheme, t))):>{width}}" for t in tasks)
        print(f"{i:>4}  {scheme:<15}  {row}   {em:9.3f}  {acc:5.2f}  {solved}/{len(tasks)}")


if __name__ == "__main__":
    main()
