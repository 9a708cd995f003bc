"""poslab results as pandas DataFrames.

    import sys; sys.path.insert(0, "python")          # or PYTHONPATH=python
    from poslab_results import load_runs, load_probes
    runs = load_runs("experiments/position_matrices/results")

load_runs(path)   -> one row per run x evaluation (variant) x evaluation length x metric
load_probes(path) -> one row per run (or `poslab probe --out` file) x probe x scalar metric

`path` is a results file, a folder (searched recursively for *.h5, as `poslab report`
does) or a list of either. Files that are not a run's results (`poslab encode` output,
and for load_runs `poslab probe --out` files) are skipped; a file of an unknown
schema_version, or an .h5 file that cannot be read, raises ValueError naming it.
Every row carries the run's identity (file, run, experiment, encoder, task, seed,
status) and its resolved configuration flattened into `config.<key.path>` columns
(lists as their YAML text), so that `groupby` works on any setting. Needs h5py, pandas
and PyYAML (Debian: python3-h5py python3-pandas python3-yaml).
"""
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml

__all__ = ["load_runs", "load_probes", "results_files", "open_results", "KNOWN_SCHEMAS"]

KNOWN_SCHEMAS = (1,)
# /eval datasets that are metrics (the others index the rows: length, sequence_length)
EVAL_METRICS = ("loss", "perplexity", "token_accuracy", "exact_match")
RUN_COLUMNS = ["file", "run", "experiment", "encoder", "task", "seed", "status",
               "status_detail", "poslab_version", "git_commit", "created"]


def results_files(path):
    """Every *.h5 under `path` (file, folder or list of them), sorted, without repeats."""
    items = [path] if isinstance(path, (str, Path)) else list(path)
    found = []
    for item in items:
        item = Path(item)
        if item.is_dir():
            found.extend(sorted(p for p in item.rglob("*.h5") if p.is_file()))
        elif item.is_file():
            found.append(item)
        else:
            raise ValueError(f"{item}: no such file or folder: expected results files or folders")
    seen, out = set(), []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def open_results(path):
    """(open h5py.File, kind): kind is 'run_results', 'probe' or 'encoding' (the root
    attribute file_kind, or the layout for files older than it). ValueError naming the
    file if it is not HDF5, not poslab's, or of an unknown schema_version."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: cannot be read as HDF5 ({e}): expected a poslab results file") from None
    version = f.attrs.get("schema_version")
    if version is None:
        f.close()
        raise ValueError(f"{path}: no schema_version attribute: expected a file written by poslab")
    if int(version) not in KNOWN_SCHEMAS:
        f.close()
        raise ValueError(f"{path}: schema_version {int(version)}: expected one of "
                         f"{', '.join(map(str, KNOWN_SCHEMAS))} (a newer poslab wrote it?)")
    kind = f.attrs.get("file_kind")
    if kind is not None:
        kind = _text(kind)
    elif "train" in f and "eval" in f:  # files written before file_kind existed
        kind = "run_results"
    else:
        kind = "probe" if "matrix_source" in f.attrs else "encoding"
    return f, kind


def _flatten(node, prefix, out):
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, f"{prefix}.{key}", out)
    elif isinstance(node, list):
        out[prefix] = yaml.safe_dump(node, default_flow_style=True).strip()
    else:
        out[prefix] = node


def _run_identity(path, f):
    attrs = f.attrs
    row = {
        "file": str(path),
        "run": _text(attrs.get("run_name", Path(path).stem)),
        "experiment": _text(attrs.get("experiment", "")),
        "encoder": _text(attrs.get("encoder", "")),
        "task": _text(attrs.get("task", "")),
        "seed": int(attrs["seed"]) if "seed" in attrs else np.nan,
        "status": _text(attrs.get("status", "complete")),
        "status_detail": _text(attrs.get("status_detail", "")),
        "poslab_version": _text(attrs.get("poslab_version", "")),
        "git_commit": _text(attrs.get("git_commit", "")),
        "created": _text(attrs.get("created", "")),
    }
    config = {}
    if "config" in f:
        text = _text(f["config"][()])
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ValueError(f"{path}: /config is not YAML ({e}): expected the resolved configuration") from None
        _flatten(parsed if isinstance(parsed, dict) else {}, "config", config)
    return row, config


def _eval_groups(f):
    """(variant name, group) for /eval ('' = the task as trained) and each /eval/variants/<name>."""
    groups = [("", f["eval"])] if "eval" in f else []
    if "eval" in f and "variants" in f["eval"]:
        for name in sorted(f["eval/variants"]):
            groups.append((name, f["eval/variants"][name]))
    return groups


def _frame(rows, first_columns):
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=first_columns)
    config = sorted(c for c in frame.columns if c.startswith("config."))
    rest = [c for c in frame.columns if c not in first_columns and c not in config]
    return frame.reindex(columns=first_columns + rest + config)


def load_runs(path):
    """One row per run x evaluation (variant) x evaluation length x metric.

    Columns: the run's identity (file, run, experiment, encoder, task, seed, status,
    status_detail, poslab_version, git_commit, created), variant ('' for the task as
    trained), length (the task's unit), sequence_length (model tokens), metric (loss,
    perplexity, token_accuracy, exact_match), value, then config.<key> columns.
    A diverged run keeps its rows (status 'diverged'; values may be NaN).
    """
    rows = []
    for p in results_files(path):
        f, kind = open_results(p)
        with f:
            if kind != "run_results":
                continue
            identity, config = _run_identity(p, f)
            for variant, group in _eval_groups(f):
                if "length" not in group:
                    continue
                length = group["length"][()]
                sequence = group["sequence_length"][()] if "sequence_length" in group else length
                for metric in EVAL_METRICS:
                    if metric not in group:
                        continue
                    for i, value in enumerate(group[metric][()]):
                        rows.append({**identity, "variant": variant, "length": float(length[i]),
                                     "sequence_length": float(sequence[i]), "metric": metric,
                                     "value": float(value), **config})
    return _frame(rows, RUN_COLUMNS + ["variant", "length", "sequence_length", "metric", "value"])


def load_probes(path):
    """One row per run (or probe file) x probe x scalar metric.

    Columns: kind ('run_results' or 'probe', the latter from `poslab probe --out`),
    source (a run's name, or the probed matrix, e.g. 'model.safetensors:wpe.weight'),
    the run's identity columns (empty for probe files), probe, metric, value, note (why a
    probe did not run; then metric and value are empty), then config.<key> columns.
    """
    rows = []
    for p in results_files(path):
        f, kind = open_results(p)
        with f:
            if kind == "run_results":
                identity, config = _run_identity(p, f)
                base = {"kind": kind, "source": identity["run"], **identity}
            elif kind == "probe":
                base = {"kind": kind, "source": _text(f.attrs.get("matrix_source", "")), "file": str(p),
                        "poslab_version": _text(f.attrs.get("poslab_version", ""))}
                config = {}
            else:
                continue
            if "probes" not in f:
                continue
            for probe in sorted(f["probes"]):
                group = f["probes"][probe]
                note = _text(group.attrs["note"]) if "note" in group.attrs else ""
                metrics = [(k, v) for k, v in sorted(group.attrs.items())
                           if k not in ("note", "description") and np.ndim(v) == 0
                           and isinstance(v, (int, float, np.integer, np.floating))]
                if not metrics:
                    rows.append({**base, "probe": probe, "metric": None, "value": np.nan,
                                 "note": note, **config})
                for metric, value in metrics:
                    rows.append({**base, "probe": probe, "metric": metric, "value": float(value),
                                 "note": note, **config})
    return _frame(rows, ["kind", "source"] + RUN_COLUMNS + ["probe", "metric", "value", "note"])
