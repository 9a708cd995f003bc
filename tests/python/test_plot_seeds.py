#!/usr/bin/python3
"""scripts/plot.py groups seeds by the stored configuration (/config without its top-level
`seed`), as `poslab report` does (src/io/seed_group.h): two seeds named freely are one
curve with a mean and sd, two runs that differ in lr are two curves even when their names
follow the sweep's __seed- convention. Run by CTest (label `python`)."""
import importlib.util
import shutil
import tempfile
import unittest
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("plot", ROOT / "scripts" / "plot.py")
plot = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot)


def write_run(path, name, seed, lr, accuracy):
    """The attributes and datasets plot.py reads from a run's results file."""
    with h5py.File(path, "w") as f:
        f.attrs.update({"schema_version": 1, "file_kind": "run_results", "experiment": "synthetic",
                        "run_name": name, "encoder": "learned", "seed": seed, "status": "complete"})
        f["config"] = f"name: synthetic\nseed: {seed}\ntrain: {{steps: 10, lr: {lr}}}\n"
        f["eval/length"] = np.array([4.0, 8.0])
        f["eval/token_accuracy"] = np.array([accuracy, 0.25])


class PlotSeedsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="poslab_plot_seeds_"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def curves(self, runs):
        """{legend label: y values} of the extrapolation plot, captured before saving."""
        captured = {}

        def keep(fig, directory, name):
            for line in fig.axes[0].get_lines():
                if not line.get_label().startswith("_") and line.get_label() != "training length":
                    captured[line.get_label()] = np.asarray(line.get_ydata())
            plot.plt.close(fig)

        saved, plot.save = plot.save, keep
        try:
            plot.plot_extrapolation(runs, self.tmp, "token_accuracy")
        finally:
            plot.save = saved
        return captured

    def test_seeds_with_any_names_are_one_curve(self):
        write_run(self.tmp / "a.h5", "alpha", 1, "0.001", 0.5)
        write_run(self.tmp / "b.h5", "beta", 2, "1.0e-3", 0.7)
        runs = plot.collect_runs([str(self.tmp)])
        self.assertEqual({r.group_label for r in runs}, {"alpha | beta"})
        curves = self.curves(runs)
        self.assertEqual(list(curves), ["alpha | beta (2 seeds)"])
        np.testing.assert_allclose(curves["alpha | beta (2 seeds)"], [0.6, 0.25])

    def test_runs_that_differ_in_lr_are_never_one_curve(self):
        write_run(self.tmp / "c.h5", "swept__seed-1", 1, "0.001", 0.1)
        write_run(self.tmp / "d.h5", "swept__seed-2", 2, "0.002", 0.3)
        runs = plot.collect_runs([str(self.tmp)])
        labels = sorted(r.group_label for r in runs)
        self.assertEqual(len(set(labels)), 2, labels)
        self.assertTrue(all(label.startswith("swept") and "seed" not in label for label in labels), labels)
        curves = self.curves(runs)
        self.assertEqual(len(curves), 2, curves)
        self.assertEqual(sorted(round(float(y[0]), 6) for y in curves.values()), [0.1, 0.3])

    def test_without_seed_drops_only_this_seeds_label(self):
        self.assertEqual(plot.without_seed("sweep__name-none__seed-2", 2), "sweep__name-none")
        self.assertEqual(plot.without_seed("run__seed-21", 2), "run__seed-21")
        self.assertEqual(plot.without_seed("alpha", 1), "alpha")


if __name__ == "__main__":
    unittest.main()
