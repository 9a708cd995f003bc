#!/usr/bin/python3
"""How often a counting rule that ignores which variable was reset gets the answer wrong,
on the authors' program distribution (authors_programs.py: the rules of
src/tasks/counting.cpp, variant authors, simulated independently).

Why: with 3 and 5 variables every scheme in the study stops at 3-5% error at the trained
length, with 1 variable at 0.1-0.3%. The exact answer is the number of increments of the
printed variable x since x's last reset. With one variable any reset is x's, so simpler
rules are exact; with several, a program in which another variable was reset or
incremented after x's last reset separates them. The rules checked:
  x-increments since the last reset of any variable
  increments of any variable since x's last reset
  increments of any variable since the last reset of any variable
and, for scale, the share of programs in which more than one variable is set.
Training programs have 4..16 statements (the study's min_length and length), evaluation
programs exactly 16 or 32.

    /usr/bin/python3 experiments/cope_counting/shortcut.py [--programs N]
"""
import argparse
import random

from authors_programs import program


def rules(trace, x):
    last_any = max(i for i, (kind, _) in enumerate(trace) if kind == "reset")
    last_x = max(i for i, (kind, v) in enumerate(trace) if kind == "reset" and v == x)
    incs = lambda start, who: sum(1 for kind, v in trace[start:] if kind == "inc" and who(v))
    return (incs(last_any, lambda v: v == x), incs(last_x, lambda v: True),
            incs(last_any, lambda v: True))


def draw(variables, lengths, rng):
    while True:  # a program with no variable set is redrawn with a new length
        p = program(variables, rng.randint(*lengths), rng)
        if p:
            return p


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", type=int, default=100000)
    args = parser.parse_args()
    rng = random.Random(0)
    print(f"error (%) of each rule, {args.programs} simulated programs per row")
    print(f"{'variables':>9} {'statements':>10} {'x++ since any reset':>20} {'any ++ since x reset':>21} "
          f"{'any ++ since any reset':>23} {'>1 variable set':>16}")
    for variables in (1, 3, 5):
        for lengths in ((4, 16), (16, 16), (32, 32)):
            wrong, several = [0, 0, 0], 0
            for _ in range(args.programs):
                trace, x, answer = draw(variables, lengths, rng)
                for i, guess in enumerate(rules(trace, x)):
                    wrong[i] += guess != answer
                several += len({v for kind, v in trace if kind == "reset"}) > 1
            share = lambda k: f"{100 * k / args.programs:.2f}"
            label = f"{lengths[0]}..{lengths[1]}" if lengths[0] != lengths[1] else str(lengths[0])
            print(f"{variables:>9} {label:>10} {share(wrong[0]):>20} {share(wrong[1]):>21} "
                  f"{share(wrong[2]):>23} {share(several):>16}")


if __name__ == "__main__":
    main()
