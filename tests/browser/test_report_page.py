#!/usr/bin/python3
"""Browser test of the study report page (scripts/report_html.py): a tiny experiment is
run, its page written, and Debian's headless Chromium loads it. The test checks that the
page loads with no console messages of level warning or error, that the rendered DOM
holds the results table, the embedded plots (decodable PNGs), every run's configuration
and the provenance, and that the screenshot Chromium renders is not blank. A deliberately
broken page checks that the console check does see errors.

Run by CTest (label `browser`) with POSLAB_BINARY set; needs the `chromium` package
(scripts/setup.sh installs it).
"""
import base64
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import matplotlib.image
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
POSLAB = os.environ.get("POSLAB_BINARY", str(ROOT / "build" / "poslab"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium's --enable-logging=stderr prints each console message as
#   [pid:tid:MMDD/hhmmss.uuu:INFO:CONSOLE:line] "message", source: url (line)
# (older versions: CONSOLE(line)). Every level is logged as INFO, so errors cannot be told
# from console.log; the report page logs nothing unless something is wrong (a plot that
# did not decode, a script error), so any console message fails the test.
CONSOLE = re.compile(r":[A-Z]+:CONSOLE[:(]\d+\)?\] (.*)")


def chromium(profile, *args, timeout=120):
    """Headless Chromium with a throwaway profile, no network services, logging to stderr."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-default-apps", "--mute-audio", "--enable-logging=stderr", "--v=0",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def console_problems(stderr):
    """Every console message the page produced."""
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


class ReportPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="poslab_browser_"))
        results = cls.tmp / "results"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        subprocess.run([POSLAB, "run", str(ROOT / "tests/data/experiments/tiny.yaml"), "--out", str(results)],
                       check=True, capture_output=True, env=env)
        (cls.tmp / "matrices").mkdir()
        subprocess.run([POSLAB, "probe", str(ROOT / "tests/data/gpt2_wpe_first64.npy"), "--probes",
                        "properties,similarity", "--out", str(cls.tmp / "matrices" / "gpt2.h5")],
                       check=True, capture_output=True, env=env)
        cls.page = cls.tmp / "report.html"
        done = subprocess.run([sys.executable, str(ROOT / "scripts/report_html.py"), str(results),
                               "--out", str(cls.page), "--poslab", POSLAB, "--title", "tiny study",
                               "--matrices", str(cls.tmp / "matrices"),
                               "--", "--metrics", "loss,token_accuracy"],
                              capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise AssertionError(f"report_html.py failed: {done.stderr}")
        cls.html = cls.page.read_text()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_page_is_self_contained_and_written_atomically(self):
        self.assertFalse(re.search(r"(src|href)=\"(?!data:)", self.html), "every resource is embedded")
        self.assertEqual(list(self.tmp.glob("report.html.tmp*")), [])

    def test_bad_input_is_one_line_exit_2_and_nothing_written(self):
        empty = self.tmp / "empty"
        empty.mkdir(exist_ok=True)
        out = self.tmp / "bad.html"
        script = [sys.executable, str(ROOT / "scripts/report_html.py")]
        for args, expect in [([str(empty)], "no run results files"),
                             ([str(self.tmp / "absent")], "no such file or folder"),
                             ([str(self.tmp / "results"), "--", "--metrics", "nonsense"], "--metrics: 'nonsense'"),
                             ([str(self.tmp / "results"), "--images", str(self.tmp / "absent")], "no such folder")]:
            done = subprocess.run(script + args[:1] + ["--out", str(out), "--poslab", POSLAB] + args[1:],
                                  capture_output=True, text=True)
            self.assertEqual(done.returncode, 2, (args, done.stderr))
            self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
            self.assertIn(expect, done.stderr)
            self.assertFalse(out.exists(), args)
        self.assertEqual(list(self.tmp.glob("bad.html*")), [])

    def test_chromium_renders_tables_images_and_no_console_errors(self):
        done = chromium(self.tmp / "profile", "--dump-dom", self.page.as_uri())
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.assertEqual(console_problems(done.stderr), [])
        dom = done.stdout
        self.assertIn("<title>tiny study</title>", dom)
        # The results table: a header and one row per configuration (none, learned)
        table = re.search(r"<table class=\"results\">(.*?)</table>", dom, re.S)
        self.assertIsNotNone(table, dom[:2000])
        self.assertIn("<th>encoder</th>", table.group(1))
        self.assertEqual(len(re.findall(r"<tr>", table.group(1))), 3)
        # The matrix probes' table: a row per metric, a column for the matrix (GPT-2)
        matrices = re.search(r"<table class=\"matrices\">(.*?)</table>", dom, re.S)
        self.assertIsNotNone(matrices)
        self.assertIn("<td>properties.translation_invariance</td>", matrices.group(1))
        self.assertIn(">gpt2_wpe_first64.npy</th>", matrices.group(1))
        # Plots: every image decoded in the browser (the page's load handler counts them)
        body = re.search(r"<body([^>]*)>", dom).group(1)
        self.assertIn('data-broken-images="0"', body)
        loaded = int(re.search(r'data-loaded-images="(\d+)"', body).group(1))
        sources = re.findall(r"<img alt=\"([^\"]+)\" src=\"data:image/png;base64,([^\"]+)\"", dom)
        self.assertGreaterEqual(len(sources), 3, [name for name, _ in sources])
        self.assertEqual(loaded, len(sources))
        for name, data in sources:
            picture = matplotlib.image.imread(io.BytesIO(base64.b64decode(data)), format="png")
            self.assertGreater(picture.shape[0] * picture.shape[1], 100 * 100, name)
        self.assertIn("training.png", [name for name, _ in sources])
        # Every run's configuration and the provenance
        self.assertEqual(len(re.findall(r"<details class=\"run\">", dom)), 2)
        self.assertIn("encoder:", dom)
        self.assertIn("poslab binary", dom)
        self.assertIn("repository commit", dom)
        self.assertIn("cores", dom)

    def test_screenshot_is_not_blank(self):
        shot = self.tmp / "shot.png"
        done = chromium(self.tmp / "profile_shot", f"--screenshot={shot}", "--window-size=1200,1600",
                        "--hide-scrollbars", self.page.as_uri())
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.assertEqual(console_problems(done.stderr), [])
        picture = matplotlib.image.imread(shot)
        self.assertEqual(picture.shape[:2], (1600, 1200))
        grey = picture[..., :3].mean(axis=2)
        self.assertLess(grey.min(), 0.3, "dark text or lines somewhere")
        self.assertGreater(np.unique(np.round(grey, 2)).size, 20, "more than a flat page")
        if os.environ.get("POSLAB_KEEP_SCREENSHOT"):
            shutil.copy(shot, os.environ["POSLAB_KEEP_SCREENSHOT"])

    def test_console_check_sees_a_broken_page(self):
        # The same page with one plot's data damaged, and a script error added
        damaged = re.sub(r"base64,[A-Za-z0-9+/]{40}", "base64,AAAA", self.html, count=1)
        damaged = damaged.replace("</body>", "<script>no_such_function();</script></body>")
        broken = self.tmp / "broken.html"
        broken.write_text(damaged)
        done = chromium(self.tmp / "profile_broken", "--dump-dom", broken.as_uri())
        problems = console_problems(done.stderr)
        self.assertTrue(any("no_such_function" in p for p in problems), done.stderr[-2000:])
        self.assertTrue(any("plot did not decode" in p for p in problems), problems)
        self.assertIn('data-broken-images="1"', done.stdout)


if __name__ == "__main__":
    if CHROMIUM is None:
        print("test_report_page.py: chromium not found: expected Debian's chromium package "
              "(bash scripts/setup.sh installs it)", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
