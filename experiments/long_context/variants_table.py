#!/usr/bin/env python3
"""Prints one run's evaluation-only variants as rows (the run as trained first) and its
evaluation lengths as columns: the RoPE-stretching table of the long-context study.
Given several results files (the seeds of one run), each cell is the mean ± sd over them.
Usage: /usr/bin/python3 experiments/long_context/variants_table.py RESULTS.h5 [...] [--metric perplexity]"""
import argparse
import statistics
import sys

import h5py


def read_variants(path, metric):
    """(lengths, {row name: values per length}) of one results file; exits 2 if unreadable."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        print(f"variants_table.py: {path}: cannot open ({e})", file=sys.stderr)
        sys.exit(2)
    with f:
        if f"eval/{metric}" not in f:
            print(f"variants_table.py: {path}: no /eval/{metric}", file=sys.stderr)
            sys.exit(2)
        lengths = [int(x) for x in f["eval/length"][...]]
        rows = {"as trained": list(f[f"eval/{metric}"][...])}
        for name in sorted(f["eval/variants"].keys()) if "eval/variants" in f else []:
            rows[name] = list(f[f"eval/variants/{name}/{metric}"][...])
    return lengths, rows


def cell(values):
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {statistics.stdev(values):.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="+", help="a run's results files (.h5), one per seed")
    parser.add_argument("--metric", default="perplexity")
    args = parser.parse_args()
    lengths, rows = read_variants(args.results[0], args.metric)
    per_row = {name: [[v] for v in values] for name, values in rows.items()}
    for path in args.results[1:]:
        other_lengths, other_rows = read_variants(path, args.metric)
        if other_lengths != lengths or other_rows.keys() != rows.keys():
            print(f"variants_table.py: {path}: other lengths or variants than {args.results[0]};"
                  " expected the seeds of one run", file=sys.stderr)
            sys.exit(2)
        for name, values in other_rows.items():
            for column, v in zip(per_row[name], values):
                column.append(v)
    cells = {name: [cell(c) for c in columns] for name, columns in per_row.items()}
    width = max(len(name) for name in cells)
    column_width = max(10, 2 + max(len(c) for row in cells.values() for c in row))
    seeds = f" (mean ± sd over {len(args.results)} files)" if len(args.results) > 1 else ""
    print(f"{'variant':<{width}}" + "".join(f"{f'@{L}':>{column_width}}" for L in lengths) + seeds)
    print("-" * (width + column_width * len(lengths)))
    for name, row in cells.items():
        print(f"{name:<{width}}" + "".join(f"{c:>{column_width}}" for c in row))


if __name__ == "__main__":
    main()
