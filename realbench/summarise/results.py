"""A run's own summary files, written from its records (HELM-style: the summary reads only what
the run recorded): ``summary.csv`` (per scene and the mean over scenes, the run's identity on every
row) and ``results.json``, in the spirit of lm-evaluation-harness's results file: per split and
metric the mean over scenes, its standard error over scenes and the counts; per scene the means;
and what produced them (label, method, config and its hash, seed, benchmark, data name, spec and
checksum, metric protocols and versions, package versions, git commit).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from realbench.core import jsonio
from realbench.core.files import atomic_write_bytes
from realbench.core.words import count
from realbench.run.runfolder import RunFolder

from .formatting import to_csv
from .runview import RunView, read_run
from .summary import (
    compute_hours,
    finite_mean,
    peak_memory_gib,
    scene_means,
    scene_summary,
    select_top,
)

SCHEMA = 2  # 2: shard, partial, and a reason beside every null mean


def _number(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _stats(values: np.ndarray) -> dict[str, Any]:
    """Mean over scenes and its standard error (sample standard deviation / sqrt(scenes))."""
    values = values.astype(float)
    if len(values) == 0 or np.isnan(values).any():
        return {"mean": None, "stderr": None,
                "reason": _no_value(int(np.isnan(values).sum()), len(values))}
    stderr = None
    if len(values) > 1:
        stderr = float(np.std(values, ddof=1) / math.sqrt(len(values)))
        if not math.isfinite(stderr):  # values so large that their squares overflow: scale first
            scale = float(np.max(np.abs(values)))
            stderr = float(np.std(values / scale, ddof=1) / math.sqrt(len(values))) * scale
    out = {"mean": _number(finite_mean(values)), "stderr": _number(stderr)}
    return out if stderr is not None else {**out, "reason": "one scene: no standard error"}


def results_of(view: RunView, per_scene: pd.DataFrame | None = None) -> dict[str, Any]:
    metrics = view.metrics
    per_scene = scene_means(view.records, metrics) if per_scene is None else per_scene
    splits = {}
    for split in view.splits:
        part = per_scene if split == "all" else per_scene[per_scene["task"] == split]
        if part.empty:
            continue
        samples = view.records if split == "all" else view.records[view.records["task"] == split]
        splits[split] = {"scenes": len(part), "samples": int(part["samples"].sum()),
                         "compute_hours_per_scene": compute_hours(samples), "peak_memory_gib": peak_memory_gib(samples),
                         **{m: ({"unavailable": view.unavailable[m]} if m in view.unavailable
                                else _stats(part[m].to_numpy())) for m in metrics}}
    meta = view.meta
    data = meta.data.to_json()
    data.pop("scene_checksums")
    return {
        "schema": SCHEMA,
        "label": view.label, "method": view.method, "method_info": meta.method_info,
        "benchmark": view.benchmark,
        "config": meta.config, "config_hash": view.config_hash, "seed": meta.seed, "max_refs": meta.max_refs,
        "shard": meta.shard_text, "partial": meta.partial,
        "data": {**data, "checksum": view.checksum, "scenes": view.scenes},
        "metrics": metrics, "unavailable": view.unavailable,
        "protocol_versions": view.versions(), "protocols": meta.metric_protocols,
        "selection": meta.selection,
        "results": splits,
        "per_scene": [{k: _number(v) for k, v in row.items() if k != "method"}
                      for row in per_scene.to_dict("records")],
        "versions": meta.versions, "git": meta.git, "created": meta.created,
    }


def write_results(view: RunView, per_scene: pd.DataFrame | None = None) -> dict[str, Any]:
    results = results_of(view, per_scene)
    text = jsonio.dumps(results, indent=2) + "\n"
    atomic_write_bytes(RunFolder(view.path).results_path, text.encode())
    return results


def write_summary(run: Any, keep: int | None = None) -> pd.DataFrame:
    """``summary.csv`` over all samples, ``summary-top{K}.csv`` over the K best-ranked per scene, and
    ``results.json``; returns the (top-K) summary table."""
    view = read_run(run)
    per_scene = scene_means(view.records, view.metrics)  # once, for both files
    summary = scene_summary(view.records, view.metrics, list(view.unavailable), per_scene)
    folder = RunFolder(view.path)
    atomic_write_bytes(folder.summary_path, to_csv(_identified(summary, view)).encode())
    write_results(view, per_scene)
    if keep is not None:
        top = scene_summary(select_top(view.records, keep=keep), view.metrics, list(view.unavailable))
        atomic_write_bytes(folder.top_summary_path(keep), to_csv(_identified(top, view)).encode())
        return top
    return summary


def _identified(table: pd.DataFrame, view: RunView) -> pd.DataFrame:
    """The table with the run's identity on every row, for files that travel on their own."""
    return table.assign(run=view.label, method=view.method, data=view.data, config_hash=view.config_hash)


def _no_value(missing: int, scenes: int) -> str:
    return f"{missing} of {count(scenes, 'scene')} {'has' if missing == 1 else 'have'} no value"
