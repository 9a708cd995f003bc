#!/usr/bin/python3
"""One self-contained HTML page for a study's results: tables, plots, configurations.

    scripts/report_html.py RESULTS... --out report.html [--title TEXT] [--images DIR]...
        [--matrices PATH]... [--poslab build/poslab] [-- POSLAB-REPORT-OPTIONS]

The main table is `poslab report RESULTS --format csv` (one row per configuration, mean ±
sd over its seeds); options after `--` are passed to it (e.g. -- --metrics loss,perplexity
--probes similarity.locality). --matrices adds a table of the scalar metrics in
`poslab probe --out` files (files or folders), e.g. probes of GPT-2's position table. The
plots are every PNG under the --images folders (e.g. the study's results/plots/, drawn by
scripts/plot.py), or, with no --images, the PNGs that `scripts/plot.py all RESULTS` draws
into a temporary folder; they are embedded as base64, so the page needs nothing beside it. Each run's resolved
configuration (/config) and status are listed, and the provenance: the poslab binary's
version, the repository commit, the commits and poslab versions that wrote the files, and
the machine (host, CPU, cores, memory, OS). The page is written to a temporary name and
renamed. Bad input (no results, an unknown option) is one line on stderr and exit 2;
nothing is written then. Needs h5py, matplotlib (for plot.py) and PyYAML, Debian's
python3-* packages.
"""
import argparse
import base64
import csv
import datetime
import html
import io
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
import h5py  # noqa: E402

from poslab_results import load_probes, open_results, results_files  # noqa: E402

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.scroll { overflow-x: auto; } code { overflow-wrap: anywhere; }

figure { display: inline-block; margin: 0.5em; vertical-align: top; max-width: 100%; width: 34em; }
figure img { max-width: 100%; border: 1px solid #eee; } figcaption { font-size: 0.85em; color: #555; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.note { color: #8a5a00; } .diverged { color: #b00020; font-weight: bold; }
details { margin: 0.3em 0; } summary { cursor: pointer; }
"""


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def fail(message):
    print(f"report_html.py: {message}", file=sys.stderr)
    sys.exit(2)


def run(command):
    """(exit code, stdout, stderr) of a command; (127, '', why) if it cannot start."""
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as e:
        return 127, "", str(e)
    return done.returncode, done.stdout, done.stderr


def run_files(inputs):
    """The run results files among the inputs (probe and encode outputs are skipped)."""
    out = []
    try:
        for path in results_files(inputs):
            f, kind = open_results(path)
            with f:
                if kind == "run_results" and not path.name.endswith(".ckpt.h5"):
                    out.append(path)
    except ValueError as e:
        fail(str(e))
    return out


def tables(poslab, inputs, report_options):
    """HTML for `poslab report --format csv` and its warnings."""
    command = [poslab, "report", *map(str, inputs), *report_options, "--format", "csv"]
    code, out, err = run(command)
    if code == 2:
        fail(err.strip().splitlines()[-1] if err.strip() else f"{' '.join(command)}: exit 2")
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {code}): {err.strip()}")
    rows = list(csv.reader(io.StringIO(out)))
    parts = []
    if rows:
        parts.append("<div class=\"scroll\"><table class=\"results\">\n<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in rows[0]) + "</tr>")
        for row in rows[1:]:
            parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
        parts.append("</table></div>")
    for line in err.strip().splitlines():
        parts.append(f"<p class=\"note\">{html.escape(line)}</p>")
    parts.append(f"<p><small>From <code>{html.escape(' '.join(map(str, command[1:])))}</code>: "
                 "one row per configuration; mean ± sd over its seeds.</small></p>")
    return "\n".join(parts)


def images(image_dirs, inputs):
    """[(caption, base64 PNG)] from the folders, or from plot.py all into a temporary one."""
    found = []
    temporary = None
    if not image_dirs:
        temporary = Path(tempfile.mkdtemp(prefix="poslab_report_plots_"))
        code, _, err = run([sys.executable, str(ROOT / "scripts" / "plot.py"), "all",
                            *map(str, inputs), "--out", str(temporary)])
        if code != 0:
            print(f"report_html.py: plot.py drew nothing ({err.strip().splitlines()[-1] if err.strip() else code})",
                  file=sys.stderr)
        image_dirs = [temporary]
    try:
        for folder in map(Path, image_dirs):
            if not folder.is_dir():
                fail(f"{folder}: no such folder: expected a folder of PNG plots for --images")
            for png in sorted(folder.rglob("*.png")):
                caption = str(png.relative_to(folder))
                found.append((caption, base64.b64encode(png.read_bytes()).decode("ascii")))
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
    return found


def matrix_table(paths):
    """HTML table of the scalar metrics of `poslab probe --out` files: a row per
    probe.metric, a column per probed matrix (few matrices, many metrics)."""
    if not paths:
        return ""
    try:
        probes = load_probes(paths)
    except ValueError as e:
        fail(str(e))
    probes = probes[(probes["kind"] == "probe") & probes["metric"].notna()]
    if probes.empty:
        fail(f"{', '.join(map(str, paths))}: no `poslab probe --out` files with metrics: expected them for --matrices")
    probes = probes.assign(row=probes["probe"] + "." + probes["metric"])
    wide = probes.pivot_table(index="row", columns="source", values="value", aggfunc="first")

    def label(source):  # ".../encoded/learned.h5:/position_matrix" -> "learned.h5:/position_matrix"
        file, colon, rest = str(source).partition(":")
        return Path(file).name + colon + rest

    head = "<tr><th>probe.metric</th>" + "".join(
        f"<th title=\"{html.escape(str(c))}\">{html.escape(label(c))}</th>" for c in wide.columns) + "</tr>"
    body = []
    for row, values in wide.iterrows():
        cells = "".join(f"<td>{'' if v != v else f'{v:.4g}'}</td>" for v in values)
        body.append(f"<tr><td>{html.escape(str(row))}</td>{cells}</tr>")
    return ("<h3>Probes of position matrices (<code>poslab probe</code>)</h3>\n"
            "<div class=\"scroll\"><table class=\"matrices\">\n" + head + "\n" + "\n".join(body) +
            "\n</table></div>")


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError):
        pass
    return [("host", socket.gethostname()), ("CPU", cpu), ("cores", str(os.cpu_count())),
            ("memory", memory), ("OS", platform.platform())]


def provenance(poslab, files):
    code, out, _ = run([poslab, "--version"])
    version = out.strip() if code == 0 else "unknown (the binary did not answer --version)"
    code, commit, _ = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    code_dirty, dirty, _ = run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    commit = commit.strip() if code == 0 else "unknown (not a git checkout)"
    if code == 0 and code_dirty == 0 and dirty.strip():
        commit += " (with uncommitted changes)"
    written = set()
    for path in files:
        with h5py.File(path, "r") as f:
            written.add((_text(f.attrs.get("poslab_version", "?")), _text(f.attrs.get("git_commit", "?"))))
    rows = [("poslab binary", f"{poslab}: {version}"), ("repository commit", commit),
            ("files written by", "; ".join(f"poslab {v} at commit {c}" for v, c in sorted(written))),
            ("page generated", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))]
    rows += machine()
    return "<table class=\"provenance\">\n" + "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows) + "\n</table>"


def configurations(files):
    parts = []
    for path in files:
        with h5py.File(path, "r") as f:
            name = _text(f.attrs.get("run_name", path.stem))
            status = _text(f.attrs.get("status", "complete"))
            detail = _text(f.attrs.get("status_detail", ""))
            config = _text(f["config"][()]) if "config" in f else "(no /config in the file)"
            created = _text(f.attrs.get("created", ""))
        badge = (f" <span class=\"diverged\">diverged: {html.escape(detail)}</span>" if status == "diverged"
                 else f" ({html.escape(status)})")
        parts.append(f"<details class=\"run\"><summary><b>{html.escape(name)}</b>{badge} "
                     f"<small>{html.escape(str(path))}, {html.escape(created)}</small></summary>"
                     f"<pre>{html.escape(config)}</pre></details>")
    return "\n".join(parts)


def page(title, table_html, matrices_html, figures, config_html, provenance_html):
    figure_html = "\n".join(
        f"<figure><img alt=\"{html.escape(name)}\" src=\"data:image/png;base64,{data}\">"
        f"<figcaption>{html.escape(name)}</figcaption></figure>" for name, data in figures)
    if not figures:
        figure_html = "<p class=\"note\">No plots.</p>"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<h2>Results</h2>
{table_html}
{matrices_html}
<h2>Plots</h2>
{figure_html}
<h2>Runs and their configuration</h2>
{config_html}
<h2>Provenance</h2>
{provenance_html}
<script>
// After loading, the page notes on <body> how many plots decoded, and logs any that did
// not to the console: what the browser test (tests/browser) checks.
window.addEventListener("load", () => {{
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0);
  document.body.dataset.loadedImages = document.images.length - broken.length;
  document.body.dataset.brokenImages = broken.length;
  broken.forEach(i => console.error("plot did not decode: " + i.alt));
}});
</script>
</body>
</html>
"""


def write_atomically(path, text):
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=path.name + ".tmp.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", help="results files or folders")
    parser.add_argument("--out", required=True, help="the HTML file to write")
    parser.add_argument("--title", help="page title (default: the first input's folder name)")
    parser.add_argument("--matrices", action="append", default=[], metavar="PATH",
                        help="`poslab probe --out` files or folders to tabulate (repeatable)")
    parser.add_argument("--images", action="append", default=[], metavar="DIR",
                        help="embed this folder's PNGs (repeatable); default: draw with plot.py all")
    parser.add_argument("--poslab", default=str(ROOT / "build" / "poslab"), help="the poslab binary")
    argv = sys.argv[1:] if argv is None else list(argv)
    report_options = argv[argv.index("--") + 1:] if "--" in argv else []
    try:
        args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    except SystemExit as e:
        sys.exit(2 if e.code else 0)
    out = Path(args.out)
    if not out.parent.is_dir():
        fail(f"{out}: its folder {out.parent} does not exist: expected --out in an existing folder")
    if not (Path(args.poslab).is_file() and os.access(args.poslab, os.X_OK)):
        fail(f"{args.poslab}: not an executable: expected the poslab binary (build first: bash scripts/setup.sh)")
    files = run_files(args.inputs)
    if not files:
        fail(f"{', '.join(args.inputs)}: no run results files (*.h5 written by poslab run or sweep)")
    title = args.title or f"poslab results: {Path(args.inputs[0]).resolve().parent.name}/{Path(args.inputs[0]).name}"
    text = page(title, tables(args.poslab, args.inputs, report_options), matrix_table(args.matrices),
                images(args.images, args.inputs), configurations(files), provenance(args.poslab, files))
    write_atomically(out, text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
