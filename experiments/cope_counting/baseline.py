#!/usr/bin/python3
"""The exact match a model gets by always answering the most frequent value, for the
counting task's program distribution: an independent simulation of the generator in
src/tasks/counting.cpp.

--variant authors (default): the authors' rules (authors_programs.py; facebookresearch/RAM,
projects/cope/scripts/count_data_gen.py): no initialisation; each statement is a reset
(weight 1, any variable), pass (50) or increment (7, a variable already set); an
increment that is impossible (nothing set, or the variable at 10) is rejected and the
statement redrawn; the printed variable is one already set, and a program with none set
is redrawn. At a fixed number of statements (an evaluation length) the redraw keeps n.
--variant poslab_v1: poslab's first generator (every variable initialised to 0,
increments of any variable saturating at 10, any variable printed).

With many variables most printed variables were rarely incremented, so "always 0" or
"always 1" is a strong baseline; a model's error is only informative against it.

    /usr/bin/python3 experiments/cope_counting/baseline.py [--programs N] [--variant authors|poslab_v1]
"""
import argparse
import random
from collections import Counter

import numpy as np

from authors_programs import program


def authors_answer(variables, statements, rng):
    while True:  # a program with no variable set is redrawn with the same number of statements
        drawn = program(variables, statements, rng)
        if drawn:
            return drawn[2]


def v1_answer(variables, statements, rng):
    rng = rng.numpy
    value = [0] * variables
    draws = rng.integers(0, 58, size=statements)
    targets = rng.integers(0, variables, size=statements)
    for draw, v in zip(draws, targets):
        if draw == 0:
            value[v] = 0
        elif draw > 50:
            value[v] = min(value[v] + 1, 10)
    return value[rng.integers(0, variables)]


def majority_accuracy(variables, statements, programs, rng, answer):
    answers = Counter(answer(variables, statements, rng) for _ in range(programs))
    value, count = answers.most_common(1)[0]
    return value, count / programs


parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--programs", type=int, default=100000)
parser.add_argument("--lengths", type=int, nargs="+", default=[16, 32])
parser.add_argument("--variant", choices=["authors", "poslab_v1"], default="authors")
args = parser.parse_args()
class Generators:  # one seed for both variants' draws
    def __init__(self, seed):
        self.numpy = np.random.default_rng(seed)
        self.random = random.Random(seed).random


rng = Generators(0)
answer = authors_answer if args.variant == "authors" else v1_answer
print(f"most-frequent-answer exact match ({args.programs} simulated programs per cell, "
      f"variant {args.variant})")
print("variables  " + "".join(f"{f'statements={n}':>20}" for n in args.lengths))
for variables in (1, 3, 5):
    cells = [majority_accuracy(variables, n, args.programs, rng, answer) for n in args.lengths]
    print(f"{variables:>9}  " + "".join(f"{acc:14.3f} (= {v})" for v, acc in cells))
