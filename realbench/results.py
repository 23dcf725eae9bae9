"""``results.json``: one file per run with everything a paper table needs, in the spirit of
lm-evaluation-harness's results file: per split and metric the mean over scenes, its standard
error over scenes and the counts; per scene the means; and what produced them (label, method,
config and its hash, seed, data name, spec and checksum, metric protocols and versions, package
versions, git commit). Written from the records, like every other table.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from .imageio import atomic_write_bytes
from .runview import RunView

RESULTS = "results.json"
SCHEMA = 1


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
        return {"mean": None, "stderr": None}
    stderr = float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
    return {"mean": _number(float(values.mean())), "stderr": _number(stderr)}


def results_of(view: RunView) -> dict[str, Any]:
    from .tables import SPLITS, scene_means

    metrics = view.metrics
    per_scene = scene_means(view.records, metrics)
    splits = {}
    for split in SPLITS:
        part = per_scene if split == "all" else per_scene[per_scene["task"] == split]
        if part.empty:
            continue
        splits[split] = {"scenes": len(part), "samples": int(part["samples"].sum()),
                         **{m: ({"unavailable": view.unavailable[m]} if m in view.unavailable
                                else _stats(part[m].to_numpy())) for m in metrics}}
    meta = view.meta
    return {
        "schema": SCHEMA,
        "label": view.label, "method": view.method, "method_info": meta.get("method_info"),
        "config": meta.get("config"), "config_hash": view.config_hash, "seed": meta.get("seed"),
        "max_refs": meta.get("max_refs"),
        "data": {**(meta.get("data") or {}), "checksum": view.checksum, "scenes": view.scenes},
        "metrics": metrics, "unavailable": view.unavailable,
        "protocol_versions": view.versions(), "protocols": meta.get("metric_protocols"),
        "selection": meta.get("selection"),
        "results": splits,
        "per_scene": [{k: _number(v) for k, v in row.items() if k != "method"}
                      for row in per_scene.to_dict("records")],
        "versions": meta.get("versions"), "git": meta.get("git"), "created": meta.get("created"),
    }


def write_results(view: RunView) -> dict[str, Any]:
    results = results_of(view)
    atomic_write_bytes(view.path / RESULTS, (json.dumps(results, indent=2, ensure_ascii=False) + "\n").encode())
    return results
