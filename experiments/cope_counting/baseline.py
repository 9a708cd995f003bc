#!/usr/bin/python3
"""The exact match a model gets by always answering the most frequent value, for the
counting task's program distribution (an independent simulation of the generator in
src/tasks/counting.cpp: statements reset / pass / increment with weights 1 / 50 / 7, the
variable uniform, values capped at 10, a uniformly chosen variable printed). With many
variables most printed variables were never incremented, so "always 0" is a strong
baseline; a model's error is only informative against it.

    /usr/bin/python3 experiments/cope_counting/baseline.py [--programs N]
"""
import argparse
from collections import Counter

import numpy as np


def majority_accuracy(variables, statements, programs, rng):
    answers = Counter()
    for _ in range(programs):
        value = [0] * variables
        draws = rng.integers(0, 58, size=statements)
        targets = rng.integers(0, variables, size=statements)
        for draw, v in zip(draws, targets):
            if draw == 0:
                value[v] = 0
            elif draw > 50:
                value[v] = min(value[v] + 1, 10)
        answers[value[rng.integers(0, variables)]] += 1
    value, count = answers.most_common(1)[0]
    return value, count / programs


parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--programs", type=int, default=100000)
parser.add_argument("--lengths", type=int, nargs="+", default=[16, 32])
args = parser.parse_args()
rng = np.random.default_rng(0)
print(f"most-frequent-answer exact match ({args.programs} simulated programs per cell)")
print("variables  " + "".join(f"{f'statements={n}':>20}" for n in args.lengths))
for variables in (1, 3, 5):
    cells = [majority_accuracy(variables, n, args.programs, rng) for n in args.lengths]
    print(f"{variables:>9}  " + "".join(f"{acc:14.3f} (= {v})" for v, acc in cells))
