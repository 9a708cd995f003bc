#!/usr/bin/env python3
"""Prints one run's evaluation-only variants as rows (the run as trained first) and its
evaluation lengths as columns: the RoPE-stretching table of the long-context study.
Usage: /usr/bin/python3 experiments/long_context/variants_table.py RESULTS.h5 [--metric perplexity]"""
import argparse
import sys

import h5py


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", help="a run's results file (.h5)")
    parser.add_argument("--metric", default="perplexity")
    args = parser.parse_args()
    try:
        f = h5py.File(args.results, "r")
    except OSError as e:
        print(f"variants_table.py: {args.results}: cannot open ({e})", file=sys.stderr)
        sys.exit(2)
    with f:
        if f"eval/{args.metric}" not in f:
            print(f"variants_table.py: {args.results}: no /eval/{args.metric}", file=sys.stderr)
            sys.exit(2)
        lengths = [int(x) for x in f["eval/length"][...]]
        rows = [("as trained", f[f"eval/{args.metric}"][...])]
        for name in sorted(f["eval/variants"].keys()) if "eval/variants" in f else []:
            rows.append((name, f[f"eval/variants/{name}/{args.metric}"][...]))
    width = max(len(name) for name, _ in rows)
    print(f"{'variant':<{width}}" + "".join(f"{f'@{L}':>10}" for L in lengths))
    print("-" * (width + 10 * len(lengths)))
    for name, values in rows:
        print(f"{name:<{width}}" + "".join(f"{v:>10.2f}" for v in values))


if __name__ == "__main__":
    main()
