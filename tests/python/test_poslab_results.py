#!/usr/bin/python3
"""Tests of python/poslab_results.py (the pandas loader) on results that poslab itself
writes here: a tiny experiment (`poslab run`, about a second), a `poslab probe --out`
file and a `poslab encode` file, plus the frozen synthetic results file (eval variants).

Run by CTest (label `python`) as /usr/bin/python3 tests/python/test_poslab_results.py,
with POSLAB_BINARY set to the built CLI; by hand it falls back to build/poslab.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
from poslab_results import load_probes, load_runs  # noqa: E402

POSLAB = os.environ.get("POSLAB_BINARY", str(ROOT / "build" / "poslab"))
DATA = ROOT / "tests" / "data"


def poslab(*args):
    done = subprocess.run([POSLAB, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise AssertionError(f"poslab {' '.join(map(str, args))} failed: {done.stderr}")
    return done.stdout


class LoaderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="poslab_pandas_"))
        cls.results = cls.tmp / "results"
        poslab("run", DATA / "experiments" / "tiny.yaml", "--out", cls.results)
        poslab("probe", DATA / "gpt2_wpe_first64.npy", "--probes", "similarity",
               "--out", cls.results / "gpt2_probes.h5")
        poslab("encode", "--encoder", "sinusoidal", "--length", "8", "--dim", "4",
               "--out", cls.results / "encoded.h5")
        cls.runs = load_runs(cls.results)
        cls.probes = load_probes(cls.results)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_one_row_per_run_length_and_metric_with_the_files_numbers(self):
        runs = self.runs
        self.assertEqual(sorted(runs["run"].unique()), ["learned", "none"])
        self.assertTrue((runs["status"] == "complete").all())
        checked = 0
        for name in ("learned", "none"):
            with h5py.File(self.results / f"{name}.h5", "r") as f:
                lengths = f["eval/length"][()]
                for metric in ("loss", "perplexity", "token_accuracy", "exact_match"):
                    got = runs[(runs["run"] == name) & (runs["metric"] == metric) & (runs["variant"] == "")]
                    got = got.sort_values("length")
                    np.testing.assert_array_equal(got["length"].to_numpy(), lengths)
                    np.testing.assert_array_equal(got["value"].to_numpy(), f[f"eval/{metric}"][()])
                    np.testing.assert_array_equal(got["sequence_length"].to_numpy(),
                                                  f["eval/sequence_length"][()])
                    checked += len(got)
        self.assertEqual(checked, len(runs))  # 2 runs x 2 lengths x 4 metrics, nothing else
        self.assertEqual(len(runs), 16)

    def test_configuration_columns_are_flattened(self):
        runs = self.runs
        learned = runs[runs["run"] == "learned"].iloc[0]
        self.assertEqual(learned["config.model.d_model"], 16)
        self.assertEqual(learned["config.encoder.name"], "learned")
        self.assertEqual(learned["config.encoder.max_length"], 32)
        self.assertEqual(learned["config.eval.lengths"], "[4, 8]")
        self.assertEqual(learned["seed"], 3)
        self.assertEqual(learned["encoder"], "learned")
        self.assertEqual(learned["task"], "copy")
        # "none" has no max_length: NaN in a column the other run has
        self.assertTrue(np.isnan(runs[runs["run"] == "none"].iloc[0]["config.encoder.max_length"]))

    def test_the_documented_three_lines(self):
        # docs/python.md: accuracy by encoder and evaluation length
        runs = load_runs(self.results)
        accuracy = runs[(runs.metric == "token_accuracy") & (runs.variant == "")]
        table = accuracy.pivot_table(index="encoder", columns="length", values="value")
        self.assertEqual(list(table.index), ["learned", "none"])
        self.assertEqual(list(table.columns), [4.0, 8.0])
        with h5py.File(self.results / "none.h5", "r") as f:
            self.assertEqual(table.loc["none", 8.0], f["eval/token_accuracy"][1])

    def test_probe_files_and_run_probes(self):
        probes = self.probes
        matrix = probes[probes["kind"] == "probe"]
        self.assertEqual(list(matrix["probe"].unique()), ["similarity"])
        locality = matrix[matrix["metric"] == "locality"]["value"].item()
        with h5py.File(self.results / "gpt2_probes.h5", "r") as f:
            self.assertEqual(locality, f["probes/similarity"].attrs["locality"])
        self.assertTrue(matrix["source"].item().endswith("gpt2_wpe_first64.npy"))
        self.assertTrue(matrix["run"].isna().all())
        # load_runs reads runs only: the probe and encode files are not runs
        self.assertFalse(self.runs["file"].str.contains("gpt2_probes|encoded").any())

    def test_eval_variants_and_run_probes_of_the_synthetic_file(self):
        folder = self.tmp / "synthetic"
        folder.mkdir()
        shutil.copy(DATA / "results_synthetic.h5", folder)
        runs = load_runs(folder)
        self.assertEqual(sorted(runs["variant"].unique()), ["", "long"])
        self.assertEqual(len(runs), 2 * 2 * 4)
        probes = load_probes(folder)
        self.assertEqual(sorted(probes["metric"]), ["mae", "r2"])
        self.assertEqual(probes[probes.metric == "mae"]["value"].item(), 0.5)
        self.assertEqual(probes["source"].unique().tolist(), ["learned"])

    def test_bad_input_names_the_file(self):
        folder = self.tmp / "bad"
        folder.mkdir()
        future = folder / "future.h5"
        with h5py.File(future, "w") as f:
            f.attrs["schema_version"] = 99
        with self.assertRaisesRegex(ValueError, r"future\.h5: schema_version 99: expected one of 1"):
            load_runs(folder)
        future.unlink()
        (folder / "broken.h5").write_bytes(b"not hdf5 at all")
        with self.assertRaisesRegex(ValueError, r"broken\.h5: cannot be read as HDF5"):
            load_probes(folder)
        with self.assertRaisesRegex(ValueError, r"absent: no such file or folder"):
            load_runs(self.tmp / "absent")
        # an empty folder is an empty frame with the documented columns
        empty = self.tmp / "empty"
        empty.mkdir()
        self.assertEqual(len(load_runs(empty)), 0)
        self.assertIn("metric", load_runs(empty).columns)


if __name__ == "__main__":
    unittest.main(verbosity=2)
