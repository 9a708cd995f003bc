#!/usr/bin/python3
"""Plots of poslab results files (HDF5, schema_version 1) and `poslab encode` output.

    scripts/plot.py matrix FILE.h5[:/dataset] | MODEL.safetensors:TENSOR [--out DIR]
    scripts/plot.py {similarity,probes,hidden,extrapolation,grid,attention,training,all} RESULTS...

RESULTS are results files or folders (searched for *.h5). PNGs go to --out DIR, by default
plots/ next to the first input. See docs/plots.md.
"""
import argparse
import json
import re
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

KNOWN_SCHEMAS = (1,)
DEFAULT_METRICS = ["absolute_position.mae", "relative_position.error_rate",
                   "hidden.final_mae", "attention.overall_mean_distance"]
# metric -> (label, reference value: a number or "probe.metric" read from the same run)
REFERENCES = {
    "relative_position.error_rate": ("chance", 0.5),
    "relative_position.train_error_rate": ("chance", 0.5),
    "hidden.final_relative_error_rate": ("chance", 0.5),
    "hidden.embedding_relative_error_rate": ("chance", 0.5),
    "hidden.final_mae": ("baseline (guess the middle)", "hidden.baseline_mae"),
    "hidden.embedding_mae": ("baseline (guess the middle)", "hidden.baseline_mae"),
    "hidden.best_layer_mae": ("baseline (guess the middle)", "hidden.baseline_mae"),
    "attention.overall_mean_distance": ("uniform attention", "attention.mean_distance_uniform"),
    "attention.overall_entropy": ("uniform attention", "attention.entropy_uniform"),
    "attention.overall_first_token_mass": ("uniform attention",
                                           "attention.first_token_mass_uniform"),
}
plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight", "axes.grid": False})


# ---------------------------------------------------------------- loading

def fail(message):
    print(f"plot.py: {message}", file=sys.stderr)
    sys.exit(2)


def open_h5(path):
    path = Path(path)
    if not path.is_file():
        fail(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError:
        fail(f"{path}: not an HDF5 file")
    version = f.attrs.get("schema_version")
    if version is None or int(version) not in KNOWN_SCHEMAS:
        fail(f"{path}: schema_version {version} is not supported "
             f"(known: {', '.join(map(str, KNOWN_SCHEMAS))})")
    return f


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


class Run:
    """One results file: its label and typed access to datasets and probe metrics."""

    def __init__(self, path):
        self.path = Path(path)
        self.f = open_h5(path)
        self.encoder = text(self.f.attrs.get("encoder", "?"))
        self.label = text(self.f.attrs.get("run_name", self.path.stem))
        self.name = self.label  # the run name as stored, never decorated
        self.seed = self.f.attrs.get("seed")
        self.group_key = seed_group_key(self.f, self.path)
        self.group_label = self.label  # set by collect_runs: shared by the run's seeds
        # A diverged run (non-finite loss; evaluation NaN) is drawn marked and never
        # averaged with the seeds that trained.
        self.diverged = text(self.f.attrs.get("status", "complete")) == "diverged"
        if self.diverged:
            self.label += " [diverged]"

    def array(self, name):
        obj = self.f.get(name)
        return np.asarray(obj[()], dtype=float) if isinstance(obj, h5py.Dataset) else None

    def group(self, name):
        obj = self.f.get(name)
        return obj if isinstance(obj, h5py.Group) else None

    def probe(self, name):
        """The probe's group, or None if it did not run or left a note (not applicable)."""
        g = self.group(f"probes/{name}")
        return None if g is None or "note" in g.attrs else g

    def metric(self, spec):
        """'probe.metric' -> (value or None, reason when None)."""
        probe, _, key = spec.partition(".")
        g = self.group(f"probes/{probe}")
        if g is None:
            return None, f"{probe} probe not run"
        if "note" in g.attrs:
            return None, text(g.attrs["note"])
        if key not in g.attrs:
            return None, f"no metric {key!r}"
        return float(g.attrs[key]), ""


def is_run_results(path):
    """Run results, not a probe or encode output or a checkpoint in the same folder."""
    if path.name.endswith(".ckpt.h5"):
        return False
    try:
        with h5py.File(path, "r") as f:
            kind = text(f.attrs.get("file_kind", "run_results"))
    except OSError:
        return True  # open_h5 reports it
    if kind != "run_results":
        print(f"plot.py: {path}: skipped (a {kind} file, not run results)", file=sys.stderr)
    return kind == "run_results"


def collect_runs(inputs):
    paths = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = [p for p in sorted(item.glob("*.h5")) if is_run_results(p)]
            if not found:
                fail(f"{item}: no *.h5 files")
            paths += found
        elif item.is_file():
            paths.append(item)
        else:
            fail(f"{item}: no such file or folder")
    runs = [Run(p) for p in paths]
    for r in runs:
        if r.diverged:
            detail = text(r.f.attrs.get("status_detail", ""))
            print(f"plot.py: {r.path}: diverged ({detail}); marked, left out of seed averages",
                  file=sys.stderr)
    labels = [r.label for r in runs]
    for r in runs:  # the same run name from different experiments: say which
        if labels.count(r.label) > 1:
            r.label = f"{text(r.f.attrs.get('experiment', r.path.parent.name))}/{r.label}"
    label_seed_groups(runs)
    return runs


# ---- Seeds: runs whose stored configuration (/config) differs only in the top-level `seed`
#      key are seeds of one configuration, whatever their names (the rule of `poslab
#      report`, src/io/seed_group.h).

def canonical(value):
    """A YAML value with numbers (and strings that read as finite numbers) as "%.17g" text,
    so that 0.003 and 3.0e-3 agree; mapping order does not matter once dumped sorted."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return "%.17g" % value if np.isfinite(value) else str(value)
    s = str(value)
    try:
        number = float(s)
    except ValueError:
        return s
    return "%.17g" % number if np.isfinite(number) and s.strip() == s else s


def seed_group_key(f, path):
    """experiment + the resolved configuration without its seed; None without /config."""
    if "config" not in f:
        return None
    try:
        config = yaml.safe_load(text(f["config"][()]))
    except yaml.YAMLError as e:
        fail(f"{path}: /config: not YAML ({str(e).splitlines()[0]}): expected the resolved configuration")
    if not isinstance(config, dict):
        fail(f"{path}: /config: not a mapping: expected the resolved configuration")
    config.pop("seed", None)
    return text(f.attrs.get("experiment", "")) + "\n" + json.dumps(canonical(config), sort_keys=True)


def without_seed(name, seed):
    """The run name without the sweep's seed label "__seed-<seed>" (a whole "__" part)."""
    parts = name.split("__")
    if seed is not None and f"seed-{int(seed)}" in parts[1:]:
        del parts[parts.index(f"seed-{int(seed)}", 1)]
    return "__".join(parts)


def label_seed_groups(runs):
    """Gives the runs of each configuration one label: their names without seed labels,
    each distinct name once ("alpha | beta"; "+N more" after three), then the experiment
    (or a number) in front when two configurations would share a label."""
    groups = {}
    for r in runs:  # a file without /config is its own group
        groups.setdefault(r.group_key if r.group_key is not None else ("file", str(r.path)), []).append(r)
    labels = {}
    for key, members in groups.items():
        named = [r for r in members if not r.diverged] or members
        names = list(dict.fromkeys(without_seed(r.name, r.seed) for r in named))
        label = " | ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
        labels[key] = label
    experiment = {key: text(m[0].f.attrs.get("experiment", m[0].path.parent.name)) for key, m in groups.items()}
    sharing = {}  # label -> experiments of the configurations that have it
    for key in groups:
        sharing.setdefault(labels[key], set()).add(experiment[key])
    for key in groups:  # from different experiments: say which
        if len(sharing[labels[key]]) > 1:
            labels[key] = f"{experiment[key]}/{labels[key]}"
    clashing = list(labels.values())
    numbered = {}
    for key in groups:  # still equal (same experiment): number them in order
        if clashing.count(labels[key]) > 1:
            numbered[labels[key]] = numbered.get(labels[key], 0) + 1
            labels[key] += f" #{numbered[labels[key]]}"
    for key, members in groups.items():
        for r in members:
            r.group_label = labels[key]


def spec_file(spec):
    """The file of FILE.h5:/dataset or MODEL.safetensors:TENSOR (or of a plain path)."""
    if ".safetensors:" in spec:
        return spec[:spec.index(".safetensors:") + len(".safetensors")]
    return spec.split(":/")[0]


def out_dir(args):
    if args.out:
        d = Path(args.out)
    else:
        first = Path(spec_file(args.inputs[0]))
        d = (first if first.is_dir() else first.parent) / "plots"
    d.mkdir(parents=True, exist_ok=True)
    return d


def save(fig, directory, name):
    path = Path(directory) / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    fig.savefig(path, bbox_inches="tight")  # keeps a legend placed outside the axes
    plt.close(fig)
    print(path)
    return path


def line_legend(ax, lines):
    """Inside the axes for a few lines; beside them (right) when many would hide the data."""
    if lines > 8:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        ax.legend(fontsize=9)


def colours(runs):
    cmap = plt.get_cmap("tab10")
    return {r.label: cmap(i % 10) for i, r in enumerate(runs)}


def panel_grid(n, width=4.0, height=3.6, max_cols=4):
    cols = min(n, max_cols)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat[:n]


def short(reason):
    return reason.split(" (")[0].split(": ")[-1]


def integer_ticks(ax):
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))


def not_applicable(ax, title, reason):
    ax.set_title(title, fontsize=10)
    ax.set_box_aspect(1)
    ax.text(0.5, 0.5, "not applicable:\n" + "\n".join(textwrap.wrap(short(reason), 28)),
            ha="center", va="center", transform=ax.transAxes, fontsize=9, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


# ---------------------------------------------------------------- plots

MATRIX_DEFAULTS = ["position_matrix", "encoder/position_matrix", "bias", "encoder/bias"]


# safetensors dtypes that are drawn, as NumPy dtypes (BF16 is widened by hand)
SAFETENSORS_FLOATS = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2"}


def read_safetensors(path, name):
    """One floating-point tensor of a safetensors file, as float64 (only its bytes are
    read). What reading needs is checked here; `poslab probe` validates the whole header."""
    path = Path(path)
    if not path.is_file():
        fail(f"{path}: no such file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(8)
        length = int.from_bytes(prefix, "little") if len(prefix) == 8 else None
        if length is None or length > min(size - 8, 100_000_000):
            fail(f"{path}: not a safetensors file (8-byte header length, JSON header, data)")
        try:
            header = json.loads(f.read(length))
        except (ValueError, UnicodeDecodeError) as e:
            fail(f"{path}: header is not valid JSON ({e})")
        entry = header.get(name) if isinstance(header, dict) and name != "__metadata__" else None
        if not isinstance(entry, dict):
            names = sorted((k for k in (header if isinstance(header, dict) else {}) if k != "__metadata__"),
                           key=lambda k: name not in k)  # the names containing `name` first
            more = f", ... ({len(names)} tensors)" if len(names) > 12 else ""
            fail(f"{path}: no tensor {name!r}: expected one of {', '.join(names[:12]) or '(none)'}{more}")
        dtype, shape = entry.get("dtype"), entry.get("shape")
        offsets = entry.get("data_offsets")
        if dtype not in SAFETENSORS_FLOATS:
            fail(f"{path}: tensor {name!r} has dtype {dtype}: expected F32, F16, BF16 or F64")
        if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
                or not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= size - 8 - length
                or int(np.prod(shape, dtype=object)) * np.dtype(SAFETENSORS_FLOATS[dtype]).itemsize
                != offsets[1] - offsets[0]):
            fail(f"{path}: tensor {name!r}: shape {shape} and data_offsets {offsets} do not fit "
                 f"the file: expected shape x dtype size = end - begin, inside the file")
        f.seek(8 + length + offsets[0])
        raw = np.frombuffer(f.read(offsets[1] - offsets[0]), SAFETENSORS_FLOATS[dtype])
    if dtype == "BF16":  # bfloat16 is the top half of a float32
        raw = (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(float).reshape(shape)


def plot_safetensors_matrix(spec, directory, vlim=None):
    file = spec_file(spec)
    tensor = spec[len(file) + 1:]  # none given: the error lists the names
    data = read_safetensors(file, tensor)
    if data.ndim < 1:
        fail(f"{file}: tensor {tensor!r} is a scalar: expected a matrix")
    return draw_matrix(data, f"{Path(file).name}: {tensor} {list(data.shape)}", "", tensor,
                       Path(file).stem, directory, vlim)


def plot_matrix(spec, directory, vlim=None):
    if ".safetensors:" in spec or spec.endswith(".safetensors"):
        return plot_safetensors_matrix(spec, directory, vlim)
    file, _, dataset = spec.partition(":/")
    f = open_h5(file)
    names = [dataset] if dataset else [n for n in MATRIX_DEFAULTS if n in f]
    if not names or names[0] not in f or not isinstance(f[names[0]], h5py.Dataset):
        found = []
        f.visititems(lambda n, o: found.append("/" + n) if isinstance(o, h5py.Dataset)
                     and o.ndim >= 2 else None)
        fail(f"{file}: no dataset {'/' + dataset if dataset else 'to draw'}"
             f" (2-D+ datasets: {', '.join(found) or 'none'})")
    name = names[0]
    data = np.asarray(f[name][()], dtype=float)
    description = text(f[name].attrs.get("description", ""))
    encoder = text(f.attrs.get("encoder", f.attrs.get("run_name", Path(file).stem)))
    title = f"{encoder}: /{name} {list(data.shape)}"
    if "length" in f.attrs and "dim" in f.attrs:
        title += f"  (L={int(f.attrs['length'])}, d={int(f.attrs['dim'])})"
    return draw_matrix(data, title, description, name, Path(file).stem, directory, vlim)


def draw_matrix(data, title, description, name, stem, directory, vlim=None):
    """A 1-D curve, a 2-D heatmap, or one heatmap panel per leading index."""
    if data.ndim == 1:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(data, marker=".")
        ax.set_xlabel("index")
        ax.set_ylabel(name.split("/")[-1])
        ax.set_title(title + ("\n" + description if description else ""), fontsize=10)
        return save(fig, directory, f"{stem}_{name}")
    finite = data[np.isfinite(data)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if lo == hi:  # e.g. an untrained T5 bias (all zeros): say so, keep a usable scale
        description += f"{chr(10) if description else ''}(every value is {lo:g})"
        lo, hi = lo - 1, hi + 1
    if lo < 0 < hi or vlim:  # signed values: diverging scale centred on 0
        v = vlim or max(abs(lo), abs(hi)) or 1.0
        style = dict(cmap="RdBu_r", vmin=-v, vmax=v)
    else:
        style = dict(cmap="viridis", vmin=lo, vmax=hi)
    if data.ndim == 2:
        fig, ax = plt.subplots(figsize=(9, 6))
        im = ax.imshow(data, aspect="auto", interpolation="nearest", **style)
        ax.set_xlabel("dimension" if "position" in name else "column")
        ax.set_ylabel("position" if "position" in name else "row")
        fig.colorbar(im, ax=ax, label="value")
        ax.set_title(title + ("\n" + description if description else ""), fontsize=10)
        return save(fig, directory, f"{stem}_{name}")
    panels = data.reshape(-1, *data.shape[-2:])
    lead = np.ndindex(*data.shape[:-2])
    kinds = ["head"] if data.ndim == 3 else ["layer", "head"] + ["index"] * (data.ndim - 4)
    fig, axes = panel_grid(len(panels), width=3.6, height=3.4)
    for ax, panel, idx in zip(axes, panels, lead):
        im = ax.imshow(panel, interpolation="nearest", **style)
        ax.set_title(" ".join(f"{k} {i}" for k, i in zip(kinds, idx)), fontsize=10)
        ax.set_xlabel("key j")
        ax.set_ylabel("query i")
        integer_ticks(ax)
    fig.colorbar(im, ax=list(axes), label="value", shrink=0.8)
    fig.suptitle(title + ("\n" + description if description else ""), fontsize=10)
    return save(fig, directory, f"{stem}_{name}")


def plot_similarity(runs, directory):
    fig, axes = panel_grid(len(runs))
    im = None
    for ax, r in zip(axes, runs):
        g = r.probe("similarity")
        if g is None:
            not_applicable(ax, r.label, r.metric("similarity.locality")[1])
            continue
        im = ax.imshow(g["cosine"][()], cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(f"{r.label}  (locality {g.attrs['locality']:.3f})", fontsize=10)
        ax.set_xlabel("position j")
        ax.set_ylabel("position i")
        integer_ticks(ax)
    if im is None:
        plt.close(fig)
        return print("similarity: no run has a similarity probe result; skipped")
    fig.colorbar(im, ax=list(axes), label="cosine similarity", shrink=0.8)
    fig.suptitle("Cosine similarity of position vectors", fontsize=12)
    save(fig, directory, "similarity")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    c = colours(runs)
    for r in runs:
        g = r.probe("similarity")
        if g is not None:
            ax.plot(g["mean_by_distance"][()], marker=".", color=c[r.label], label=r.label)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("distance |i − j| (positions)")
    ax.set_ylabel("mean cosine similarity")
    ax.set_title("Similarity of position vectors by distance")
    ax.legend()
    save(fig, directory, "similarity_by_distance")


def plot_probes(runs, directory, metrics):
    fig, axes = panel_grid(len(metrics), width=max(4.0, 0.8 * len(runs) + 1.5), height=4.0,
                           max_cols=2)
    c = colours(runs)
    x = np.arange(len(runs))
    for ax, spec in zip(axes, metrics):
        values = [r.metric(spec) for r in runs]
        heights = [np.nan if v is None else v for v, _ in values]
        ax.bar(x, heights, color=[c[r.label] for r in runs])
        top = np.nanmax(heights) if np.isfinite(heights).any() else 1.0
        for i, (v, why) in enumerate(values):
            if v is None:
                ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=9, color="0.4")
            else:
                ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
        if spec in REFERENCES:
            label, ref = REFERENCES[spec]
            refs = [ref if isinstance(ref, float) else r.metric(ref)[0] for r in runs]
            for i, v in enumerate(refs):
                if v is not None:
                    ax.hlines(v, i - 0.45, i + 0.45, colors="k", linestyles="--", lw=1,
                              label=label if i == 0 or refs[0] is None else None)
                    top = max(top, v)
            if any(v is not None for v in refs):
                ax.legend(fontsize=8, loc="upper right")
        ax.set_ylim(0, 1.2 * top if top > 0 else 1)
        ax.set_xlim(-0.6, len(runs) - 0.4)
        ax.set_xticks(x, [r.label for r in runs], rotation=30, ha="right")
        ax.set_title(spec)
        missing = {}
        for r, (v, why) in zip(runs, values):
            if v is None:
                missing.setdefault(short(why), []).append(r.label)
        if missing:
            ax.set_xlabel("\n".join(textwrap.fill(f"n/a ({', '.join(names)}): {why}", 60)
                                    for why, names in missing.items()), fontsize=8)
    fig.suptitle("Probe metrics across runs", fontsize=12)
    save(fig, directory, "probes")


def plot_hidden(runs, directory):
    have = [r for r in runs if r.probe("hidden") is not None]
    if not have:
        return print("hidden: no run has a hidden probe result; skipped")
    c = colours(runs)
    fig, (ax_mae, ax_rel) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    layers, baselines = 0, set()
    for r in have:
        g = r.probe("hidden")
        mae = g["mae"][()]
        layers = max(layers, len(mae))
        ax_mae.plot(mae, marker="o", color=c[r.label], label=r.label)
        if "per_example_mae" in g:
            ax_mae.plot(g["per_example_mae"][()], marker="x", ls=":", color=c[r.label],
                        label=f"{r.label} (per example)")
        baselines.add(float(g.attrs["baseline_mae"]))
        ax_rel.plot(g["relative_error_rate"][()], marker="o", color=c[r.label], label=r.label)
    for i, b in enumerate(sorted(baselines)):
        ax_mae.axhline(b, color="k", ls="--", lw=0.8,
                       label="baseline (guess the middle)" if i == 0 else None)
    ax_rel.axhline(0.5, color="k", ls="--", lw=0.8, label="chance")
    ticks = range(layers)
    names = ["emb"] + [str(i) for i in range(1, layers - 1)] + ["final"] if layers > 1 else ["emb"]
    for ax, ylabel, title in [
            (ax_mae, "absolute-position MAE (positions)", "Position readable from hidden states"),
            (ax_rel, "relative-order error rate", "Order readable from hidden states")]:
        ax.set_xticks(ticks, names[:layers])
        ax.set_xlabel("residual stream (emb = embedding output, final = last layer's output)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    save(fig, directory, "hidden")


def eval_series(r, variants):
    """(label suffix, h5 group path) of the run's evaluation: as trained, then each
    /eval/variants/<name> when asked for (e.g. RoPE stretched at evaluation only)."""
    out = [("", "eval")]
    g = r.group("eval/variants") if variants else None
    if g is not None:
        out += [(f" [{name}]", f"eval/variants/{name}") for name in sorted(g.keys())]
    return out


def draw_seed_curves(ax, curves, marker, shade_sd):
    """One line per configuration label -> (x, [y per seed]): the mean of the seeds whose
    y matches x, ±1 sd shaded when asked and there are several; tab10 colours, then the
    same colours dashed, dotted, ... past ten lines."""
    cmap = plt.get_cmap("tab10")
    styles = ["-", "--", ":", "-."]
    for i, (label, (x, ys)) in enumerate(curves.items()):
        ys = np.array([y for y in ys if len(y) == len(x)])
        mean = ys.mean(axis=0)
        seeds = f" ({len(ys)} seeds)" if len(ys) > 1 else ""
        ax.plot(x, mean, marker=marker, color=cmap(i % 10), ls=styles[(i // 10) % 4],
                label=label + seeds)
        if shade_sd and len(ys) > 1:
            sd = ys.std(axis=0, ddof=1)
            ax.fill_between(x, mean - sd, mean + sd, color=cmap(i % 10), alpha=0.15, lw=0)


def mark_training_lengths(ax, train_lengths):
    for i, t in enumerate(sorted(train_lengths)):
        ax.axvline(t, color="k", ls="--", lw=1, label="training length" if i == 0 else None)


def plot_extrapolation(runs, directory, metric, variants=False):
    """One line per configuration (a sweep's seeds are averaged, their sd shaded)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    train_lengths, lengths, all_nan = set(), set(), True
    curves = {}  # configuration label -> (x, [y per seed])
    for r in runs:
        if r.diverged:
            continue
        g = r.probe("extrapolation")
        use_probe = g is not None and metric != "perplexity"
        for suffix, group in ([("", "probes/extrapolation")] if use_probe
                              else eval_series(r, variants)):
            x, y = r.array(f"{group}/length"), r.array(f"{group}/{metric}")
            if x is None or y is None:
                continue
            all_nan &= bool(np.isnan(y).all())
            lengths.update(x.tolist())
            curves.setdefault(r.group_label + suffix, (x, []))[1].append(y)
        if g is not None and "train_length" in g.attrs:
            train_lengths.add(float(g.attrs["train_length"]))
        elif r.group("eval") is not None and "train_length" in r.group("eval").attrs:
            train_lengths.add(float(r.group("eval").attrs["train_length"]))
    # Lengths spanning a factor of 16 or more (long-context studies) read best on log axes.
    log_x = bool(lengths) and max(lengths) >= 16 * max(min(lengths), 1)
    draw_seed_curves(ax, curves, marker="o", shade_sd=True)
    mark_training_lengths(ax, train_lengths)
    if log_x:
        ax.set_xscale("log", base=2)
    if lengths:
        ticks = sorted(lengths | train_lengths)
        ax.set_xticks(ticks, [f"{int(t):,}" for t in ticks])
        ax.margins(x=0.08)
    ax.set_xlabel("evaluation length (task units" + (", log scale)" if log_x else ")"))
    units = {"loss": " (nats per token)", "perplexity": " (log scale)"}
    ax.set_ylabel(metric.replace("_", " ") + units.get(metric, ""))
    if metric == "perplexity":
        ax.set_yscale("log")
        # Plain numbers at 1, 2, 5 x 10^k: perplexities span one or two decades.
        ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    elif metric != "loss":
        ax.set_ylim(-0.02, 1.02)
    title = f"Length extrapolation: {metric.replace('_', ' ')}"
    ax.set_title(title + ("\n(not defined for this task: all NaN)" if all_nan else ""))
    line_legend(ax, len(curves))
    save(fig, directory, f"extrapolation_{metric}")


def plot_loss_by_position(runs, directory, length=None, variants=False):
    """Mean loss per log-spaced position bucket inside one evaluation window (the largest
    evaluated length unless `length` is given): one line per configuration, seeds
    averaged. A scheme that extrapolates keeps its loss flat (or falling: more context)
    past the training length; one that does not climbs there."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    curves, train_lengths, chosen = {}, set(), set()
    for r in runs:
        if r.diverged:
            continue
        for suffix, group in eval_series(r, variants):
            g = r.group(group)
            if g is None:
                continue
            lengths = sorted(int(k) for k in g.keys() if k.isdigit()
                             and f"{k}/loss_by_position" in g)
            if not lengths:
                continue
            L = length if length is not None else lengths[-1]
            if L not in lengths:
                fail(f"{r.path}: /{group} has no loss_by_position at length {L} "
                     f"(it has {', '.join(map(str, lengths))})")
            chosen.add(L)
            start = r.array(f"{group}/{L}/bucket_start")
            end = r.array(f"{group}/{L}/bucket_end")
            loss = r.array(f"{group}/{L}/loss_by_position")
            # Plot each bucket at its geometric centre (position 0 at 0.5 so a log axis shows it).
            x = np.sqrt(np.maximum(start, 0.5) * np.maximum(end, 1.0))
            curves.setdefault(r.group_label + suffix, (x, []))[1].append(loss)
        if r.group("eval") is not None and "train_length" in r.group("eval").attrs:
            train_lengths.add(float(r.group("eval").attrs["train_length"]))
    if not curves:
        fail("no run holds /eval/<length>/loss_by_position (evaluated before it was recorded?)")
    draw_seed_curves(ax, curves, marker=".", shade_sd=False)
    mark_training_lengths(ax, train_lengths)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("position in the evaluation window (bucket centre, log scale)")
    ax.set_ylabel("loss (nats per token)")
    window = ", ".join(f"{w:,}" for w in sorted(chosen))
    ax.set_title(f"Loss by position in windows of {window} tokens")
    line_legend(ax, len(curves))
    save(fig, directory, "loss_by_position" + ("" if length is None else f"_{length}"))


def plot_grid(runs, directory, metric, error):
    """A sweep's evaluation metric as grouped bars: one group per run (its name before the
    first "__"), one bar per setting — the grid values in the rest of the name, and each
    evaluation variant (/eval/variants/<name>, the same model on changed task options) —
    seeds averaged with the spread over seeds as an error bar; one panel per length."""
    table = {}  # (run, setting) -> {length: [values over seeds]}
    runs_order, settings_order = [], []
    for r in runs:
        if r.diverged:
            continue
        name = r.group_label  # the seeds of one configuration share it
        base, _, grid_setting = name.partition("__")
        grid_setting = grid_setting.replace("__", ", ")
        variants = r.group("eval/variants")
        sources = [("eval", "")] + [(f"eval/variants/{v}", v) for v in (variants or {})]
        for group, variant in sources:
            x, y = r.array(f"{group}/length"), r.array(f"{group}/{metric}")
            if x is None or y is None:
                continue
            setting = ", ".join(s for s in (grid_setting, variant) if s) or "as trained"
            runs_order += [base] if base not in runs_order else []
            settings_order += [setting] if setting not in settings_order else []
            for length, value in zip(x, y):
                table.setdefault((base, setting), {}).setdefault(int(length), []).append(value)
    if not table:
        return print(f"grid: no run has eval/{metric}; skipped")
    lengths = sorted({n for cell in table.values() for n in cell})
    # "as trained" first; grid values in numeric order ("variables-3" before "variables-10")
    settings_order.sort(key=lambda s: (s != "as trained", [
        (0, float(t), "") if re.fullmatch(r"[0-9.]+", t) else (1, 0.0, t)
        for t in re.split(r"-(?=[0-9.]+$)", s)]))
    fig, axes = plt.subplots(len(lengths), 1, figsize=(max(7, 1.1 * len(runs_order) * max(1, len(settings_order) / 2.5)),
                                                      3.6 * len(lengths)), squeeze=False)
    width = 0.8 / len(settings_order)
    cmap = plt.get_cmap("tab10")
    for ax, length in zip(axes[:, 0], lengths):
        for k, setting in enumerate(settings_order):
            means, sds = [], []
            for base in runs_order:
                v = np.asarray(table.get((base, setting), {}).get(length, [np.nan]), dtype=float)
                v = 100 * (1 - v) if error else v
                means.append(np.nanmean(v) if not np.isnan(v).all() else np.nan)
                sds.append(np.nanstd(v, ddof=1) if np.sum(~np.isnan(v)) > 1 else 0)
            xs = np.arange(len(runs_order)) + (k - (len(settings_order) - 1) / 2) * width
            bars = ax.bar(xs, np.nan_to_num(means), width, yerr=sds, color=cmap(k % 10),
                          label=setting, capsize=2)
            for bar, m in zip(bars, means):
                ax.annotate("n/a" if np.isnan(m) else f"{m:.1f}" if error else f"{m:.2f}",
                            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7)
        ax.set_xticks(np.arange(len(runs_order)), runs_order)
        what = f"error % (100·(1 − {metric.replace('_', ' ')}))" if error else metric.replace("_", " ")
        ax.set_ylabel(what)
        ax.set_title(f"{what} at evaluation length {length}")
        if not error and metric != "loss":
            ax.set_ylim(0, 1.08)
        ax.legend(fontsize=8, title="setting", title_fontsize=8)
    fig.tight_layout()
    save(fig, directory, f"grid_{'error_' if error else ''}{metric}")


def plot_attention(runs, directory):
    have = [r for r in runs if r.probe("attention") is not None]
    if not have:
        return print("attention: no run has an attention probe result; skipped")
    for r in have:
        maps = r.probe("attention")["example_map"][()]
        n_layers, n_heads = maps.shape[:2]
        fig, axes = plt.subplots(n_layers, n_heads, figsize=(2.8 * n_heads, 2.8 * n_layers),
                                 squeeze=False, layout="constrained")
        for (l, h), ax in np.ndenumerate(axes):
            im = ax.imshow(maps[l, h], cmap="magma", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"layer {l} head {h}", fontsize=9)
            ax.set_xlabel("key j" if l == n_layers - 1 else "")
            ax.set_ylabel("query i" if h == 0 else "")
            integer_ticks(ax)
        fig.colorbar(im, ax=list(axes.flat), label="attention probability", shrink=0.8)
        fig.suptitle(f"{r.label}: attention maps of one example", fontsize=12)
        save(fig, directory, f"attention_maps_{r.label}")

    fig, axes = panel_grid(len(have), width=3.8, height=3.2)
    vmax = max(float(np.nanmax(r.probe("attention")["mean_distance"][()])) for r in have)
    for ax, r in zip(axes, have):
        g = r.probe("attention")
        d = g["mean_distance"][()]
        im = ax.imshow(d, cmap="viridis", vmin=0, vmax=vmax, aspect="auto")
        for (l, h), v in np.ndenumerate(d):
            ax.text(h, l, f"{v:.1f}", ha="center", va="center", fontsize=9,
                    color="white" if v < 0.6 * vmax else "black")
        ax.set_xticks(range(d.shape[1]))
        ax.set_yticks(range(d.shape[0]))
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_title(f"{r.label}\n(uniform: {g.attrs['mean_distance_uniform']:.2f})",
                     fontsize=10)
    fig.colorbar(im, ax=list(axes), label="mean attention distance (tokens)", shrink=0.8)
    fig.suptitle("Mean attention distance per layer and head", fontsize=12)
    save(fig, directory, "attention_distance")


def plot_training(runs, directory):
    c = colours(runs)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for r in runs:
        step, loss = r.array("train/step"), r.array("train/loss")
        if step is not None and loss is not None and len(step):
            ax.plot(step, loss, color=c[r.label], label=r.label)
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (nats per scored token)")
    ax.set_title("Training loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    save(fig, directory, "training")


def plot_all(runs, directory):
    plot_training(runs, directory)
    for metric in ("token_accuracy", "exact_match", "loss"):
        if any(r.array(f"eval/{metric}") is not None
               and not np.isnan(r.array(f"eval/{metric}")).all() for r in runs):
            plot_extrapolation(runs, directory, metric)
    plot_probes(runs, directory, DEFAULT_METRICS)
    plot_hidden(runs, directory)
    plot_attention(runs, directory)
    plot_similarity(runs, directory)
    for r in runs:
        for name in ("encoder/position_matrix", "encoder/bias"):
            if r.array(name) is not None:
                plot_matrix(f"{r.path}:/{name}", directory)


# ---------------------------------------------------------------- command line

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, help_text, many=True):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("inputs", nargs="+" if many else 1,
                       metavar="RESULTS" if many else "FILE.h5[:/dataset]")
        p.add_argument("--out", metavar="DIR", help="output folder (default: plots/ next to "
                       "the first input)")
        return p

    command("matrix", "heatmap of a position matrix or per-head bias", many=False).add_argument(
        "--vlim", type=float, help="colour scale −V..V (default: the largest |value|)")
    command("similarity", "cosine similarity heatmaps and similarity by distance")
    command("probes", "bar chart of probe metrics across runs").add_argument(
        "--metric", nargs="+", default=DEFAULT_METRICS, metavar="PROBE.METRIC")
    command("hidden", "per-layer hidden-state probe curves")
    extrapolation = command("extrapolation", "an evaluation metric vs evaluation length")
    extrapolation.add_argument("--metric", default="token_accuracy",
                               choices=["token_accuracy", "exact_match", "loss", "perplexity"])
    extrapolation.add_argument("--variants", action="store_true",
                               help="also draw each /eval/variants/<name> as its own line")
    grid = command("grid", "a sweep's evaluation metric as grouped bars (run x grid setting)")
    grid.add_argument("--metric", default="token_accuracy",
                      choices=["token_accuracy", "exact_match", "loss", "perplexity"])
    grid.add_argument("--error", action="store_true", help="plot the error %%, 100·(1 − metric)")
    positions = command("positions", "loss by position inside one evaluation window")
    positions.add_argument("--length", type=int, help="the evaluation length (default: the "
                           "largest each run evaluated)")
    positions.add_argument("--variants", action="store_true",
                           help="also draw each /eval/variants/<name> as its own line")
    command("attention", "example attention maps and mean distance per layer/head")
    command("training", "training loss vs step")
    command("all", "every applicable plot")
    args = parser.parse_args(argv)

    if args.command == "matrix":
        file = spec_file(args.inputs[0])
        if not Path(file).is_file():
            fail(f"{file}: no such file")
        plot_matrix(args.inputs[0], out_dir(args), args.vlim)
        return
    runs = collect_runs(args.inputs)
    directory = out_dir(args)
    plots = {"similarity": plot_similarity, "hidden": plot_hidden, "attention": plot_attention,
             "training": plot_training, "all": plot_all,
             "probes": lambda rs, d: plot_probes(rs, d, args.metric),
             "extrapolation": lambda rs, d: plot_extrapolation(rs, d, args.metric, args.variants),
             "grid": lambda rs, d: plot_grid(rs, d, args.metric, args.error),
             "positions": lambda rs, d: plot_loss_by_position(rs, d, args.length, args.variants)}
    plots[args.command](runs, directory)

if __name__ == "__main__":
    main()
