#!/usr/bin/python3
"""scripts/plot.py matrix on a safetensors tensor: the GPT-2 slice written here as F32 and
BF16 is read back (F32 exactly, BF16 as its truncation), drawn, and bad names or dtypes
are one-line errors with exit code 2. Run by CTest (label `python`)."""
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("plot", ROOT / "scripts" / "plot.py")
plot = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot)


def write_safetensors(path, tensors):
    """tensors: [(name, dtype, array of the stored type)], laid out back to back."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, dtype, array in tensors:
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))


class PlotSafetensorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="poslab_plot_st_"))
        cls.wpe = np.load(ROOT / "tests" / "data" / "gpt2_wpe_first64.npy")  # float32 [64, 768]
        cls.bf16 = (cls.wpe.view(np.uint32) >> 16).astype(np.uint16)
        cls.file = cls.tmp / "gpt2.safetensors"
        write_safetensors(cls.file, [("transformer.h.0.ln_1.bias", "F32", np.zeros(768, np.float32)),
                                     ("transformer.wpe.weight", "F32", cls.wpe),
                                     ("wpe_bf16", "BF16", cls.bf16),
                                     ("ids", "I64", np.arange(4, dtype=np.int64))])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def plot(self, *args):
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "plot.py"), "matrix", *map(str, args)],
                              capture_output=True, text=True)

    def test_reads_f32_exactly_and_bf16_as_its_truncation(self):
        np.testing.assert_array_equal(plot.read_safetensors(self.file, "transformer.wpe.weight"), self.wpe)
        truncated = (self.wpe.view(np.uint32) & 0xFFFF0000).view(np.float32)
        np.testing.assert_array_equal(plot.read_safetensors(self.file, "wpe_bf16"), truncated)

    def test_draws_the_table(self):
        done = self.plot(f"{self.file}:transformer.wpe.weight", "--out", self.tmp / "plots")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual([p.name for p in (self.tmp / "plots").glob("*.png")],
                         ["gpt2_transformer.wpe.weight.png"])

    def test_bad_names_and_dtypes_are_one_line_exit_2(self):
        for arg, expect in [(f"{self.file}:wpe", "no tensor 'wpe': expected one of transformer.wpe.weight, wpe_bf16"),
                            (str(self.file), "no tensor '': expected one of"),
                            (f"{self.file}:ids", "dtype I64: expected F32, F16, BF16 or F64"),
                            (f"{self.tmp / 'absent.safetensors'}:x", "no such file")]:
            done = self.plot(arg, "--out", self.tmp / "bad")
            self.assertEqual(done.returncode, 2, (arg, done.stderr))
            self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
            self.assertIn(expect, done.stderr)
        broken = self.tmp / "broken.safetensors"
        broken.write_bytes((20).to_bytes(8, "little") + b'{"a": {"dtype": "F3')
        done = self.plot(f"{broken}:a")
        self.assertEqual(done.returncode, 2)
        self.assertIn("not a safetensors file", done.stderr)
        self.assertFalse((self.tmp / "bad").exists() and any((self.tmp / "bad").iterdir()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
