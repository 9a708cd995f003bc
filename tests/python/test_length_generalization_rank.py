#!/usr/bin/python3
"""experiments/length_generalization/rank.py ranks by Kazemnejad et al.'s metric: exact
match beyond L (lengths in (L, 2L]) averaged only over the seeds that solved the task at L,
token accuracy over the same seeds as the secondary column. Synthetic results files with
known numbers; each expectation below is worked out by hand. Run by CTest (label `python`)."""
import importlib.util
import io
import shutil
import tempfile
import unittest
from contextlib import redirect_stdout
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "rank", ROOT / "experiments" / "length_generalization" / "rank.py")
rank = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rank)


def write_run(directory, scheme, task, seed, em, acc, status="complete"):
    """A run trained at L = 8 and evaluated at 8, 12, 16, 24 (24 is beyond 2L: ignored)."""
    name = f"{scheme}__name-{task}__seed-{seed}"
    with h5py.File(directory / f"{name}.h5", "w") as f:
        f.attrs.update({"run_name": name, "status": status})
        f["eval/length"] = np.array([8.0, 12.0, 16.0, 24.0])
        f["eval/exact_match"] = np.array(em, dtype=float)
        f["eval/token_accuracy"] = np.array(acc, dtype=float)
        f.create_group("probes/extrapolation").attrs["train_length"] = 8


class RankTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="poslab_rank_"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_only_solving_seeds_enter_the_means(self):
        # Seeds 1, 2 solve copy (EM at L 0.95, 0.90: the threshold is inclusive); seed 3 does not.
        write_run(self.tmp, "alibi", "copy", 1, [0.95, 0.4, 0.2, 0.9], [1, 0.8, 0.6, 0.9])
        write_run(self.tmp, "alibi", "copy", 2, [0.90, 0.2, 0.0, 0.9], [1, 0.6, 0.4, 0.9])
        write_run(self.tmp, "alibi", "copy", 3, [0.50, 1.0, 1.0, 1.0], [1, 1.0, 1.0, 1.0])
        cell = rank.summarize(rank.collect(self.tmp), 0.9)["alibi", "copy"]
        self.assertEqual((cell["seeds"], cell["solved"]), (3, 2))
        # EM beyond L: seed 1 mean(0.4, 0.2) = 0.3, seed 2 mean(0.2, 0.0) = 0.1 -> 0.2
        # (24 = 3L is outside (L, 2L] and the unsolved seed 3 is left out).
        self.assertAlmostEqual(cell["em_beyond"], 0.2)
        self.assertAlmostEqual(cell["em_sd"], np.std([0.3, 0.1], ddof=1))
        self.assertAlmostEqual(cell["acc_beyond"], (0.7 + 0.5) / 2)

    def test_unsolved_task_shows_a_dash_and_counts_zero_in_the_ranking(self):
        # none: fails copy at L, but generalizes sort perfectly; t5: solves both, EM>L 0.5 on each.
        write_run(self.tmp, "none", "copy", 1, [0.27, 0.0, 0.0, 0.0], [0.8, 0.4, 0.3, 0.2])
        write_run(self.tmp, "none", "sort", 1, [1.0, 1.0, 1.0, 0.5], [1, 1, 1, 0.9])
        write_run(self.tmp, "t5", "copy", 1, [1.0, 0.5, 0.5, 0.0], [1, 0.9, 0.9, 0.5])
        write_run(self.tmp, "t5", "sort", 1, [1.0, 0.5, 0.5, 0.0], [1, 0.9, 0.9, 0.5])
        cells = rank.summarize(rank.collect(self.tmp), 0.9)
        self.assertIsNone(cells["none", "copy"]["em_beyond"])
        self.assertEqual(rank.cell_text(cells["none", "copy"]), "- (0/1)")
        rows = rank.rank(cells)
        # none: (0 + 1.0) / 2 = 0.5, one task solved; t5: (0.5 + 0.5) / 2 = 0.5, two solved.
        # Equal mean EM: the tie is broken by token accuracy, (0 + 1) / 2 = 0.5 vs 0.9.
        self.assertEqual([r[0] for r in rows], ["t5", "none"])
        self.assertAlmostEqual(rows[0][1], 0.5)
        self.assertAlmostEqual(rows[1][1], 0.5)
        self.assertEqual((rows[0][3], rows[1][3]), (2, 1))

    def test_diverged_runs_never_count_as_solved(self):
        write_run(self.tmp, "rope", "copy", 1, [1.0, 1.0, 1.0, 1.0], [1, 1, 1, 1], status="diverged")
        write_run(self.tmp, "rope", "copy", 2, [1.0, 0.25, 0.75, 0.0], [1, 0.5, 0.5, 0.5])
        cell = rank.summarize(rank.collect(self.tmp), 0.9)["rope", "copy"]
        self.assertEqual((cell["seeds"], cell["solved"]), (2, 1))
        self.assertAlmostEqual(cell["em_beyond"], 0.5)

    def test_threshold_option_and_printed_table(self):
        write_run(self.tmp, "none", "copy", 1, [0.27, 0.1, 0.0, 0.0], [0.8, 0.4, 0.3, 0.2])
        out = io.StringIO()
        with redirect_stdout(out):
            rank.main([str(self.tmp), "--solved", "0.25"])
        # With the threshold at 0.25 the seed solves copy: EM>L mean(0.1, 0.0) = 0.05.
        self.assertIn("0.050 / 0.35 (1/1)", out.getvalue())
        out = io.StringIO()
        with redirect_stdout(out):
            rank.main([str(self.tmp)])
        self.assertIn("- (0/1)", out.getvalue())


if __name__ == "__main__":
    unittest.main()
