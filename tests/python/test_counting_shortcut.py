#!/usr/bin/python3
"""experiments/cope_counting/shortcut.py: the simulated programs follow the authors' rules,
and each rule that ignores variable identity gives the answer worked out by hand on
programs built for it. Run by CTest (label `python`)."""
import importlib.util
import random
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "experiments" / "cope_counting"
sys.path.insert(0, str(STUDY))  # shortcut.py imports authors_programs.py from its folder
spec = importlib.util.spec_from_file_location("shortcut", STUDY / "shortcut.py")
shortcut = importlib.util.module_from_spec(spec)
spec.loader.exec_module(shortcut)


class Rules(unittest.TestCase):
    def test_another_variable_reset_after_x_separates_the_rules(self):
        # a = 0 ; a ++; a ++; b = 0 ; a ++; b ++; print a   -> a is 3
        trace = [("reset", 0), ("inc", 0), ("inc", 0), ("reset", 1), ("inc", 0), ("inc", 1)]
        x_since_any, any_since_x, any_since_any = shortcut.rules(trace, 0)
        self.assertEqual(x_since_any, 1)   # only the a ++ after b's reset
        self.assertEqual(any_since_x, 4)   # three of a, one of b
        self.assertEqual(any_since_any, 2)  # a ++ and b ++ after b's reset

    def test_with_one_variable_every_rule_is_the_answer(self):
        rng = random.Random(3)
        for _ in range(2000):
            trace, x, answer = shortcut.draw(1, (4, 16), rng)
            self.assertEqual(shortcut.rules(trace, x), (answer, answer, answer))


class Programs(unittest.TestCase):
    def test_programs_follow_the_authors_rules(self):
        rng = random.Random(5)
        for variables in (3, 5):
            for _ in range(2000):
                trace, x, answer = shortcut.draw(variables, (4, 16), rng)
                self.assertTrue(4 <= len(trace) <= 16)
                value = {}
                for kind, v in trace:
                    if kind == "reset":
                        value[v] = 0
                    elif kind == "inc":
                        self.assertIn(v, value, "an increment of a variable not set")
                        value[v] += 1
                        self.assertLessEqual(value[v], 10, "an increment past the cap")
                self.assertIn(x, value, "the printed variable was never set")
                self.assertEqual(answer, value[x])


if __name__ == "__main__":
    unittest.main()
