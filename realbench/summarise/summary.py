"""Per-scene summaries, the first step of every table: the mean over a scene's samples (RealFill's
protocol averages those means over scenes, so each scene weighs the same), which scenes fell
back to something, and seed selection's top-K or filtered samples."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from realbench.core.errors import RealBenchError
from realbench.selection.correspondences import keep_count

from .formatting import UNAVAILABLE


def in_scene_order(frame: pd.DataFrame, by: Sequence[str], scenes: Sequence[str]) -> pd.DataFrame:
    """``frame`` sorted by ``by``, scene ids in the order of ``scenes`` (the order the run's records
    come in: its benchmark's id order, e.g. 0, 1, 2, ..., 10)."""
    if frame.empty:
        return frame.reset_index(drop=True)
    order = {scene: i for i, scene in enumerate(dict.fromkeys(scenes))}
    keyed = frame.assign(_scene_order=frame["scene"].map(order))
    columns = ["_scene_order" if c == "scene" else c for c in by]
    return keyed.sort_values(columns, kind="stable").drop(columns="_scene_order").reset_index(drop=True)


def finite_mean(values: np.ndarray) -> float:
    """The mean of finite values, which stays finite even when their sum would overflow (values
    near 1e308 are valid floats a record may hold); bit-identical to numpy's mean otherwise."""
    mean = float(np.mean(values))
    if not math.isfinite(mean) and len(values) and np.isfinite(values).all():
        mean = float(np.sum(values / len(values)))
    return mean


def mean_or_nan(values: pd.Series) -> float:
    """Mean that is NaN ('unavailable') if any value is missing."""
    if values.isna().any() or values.empty:
        return float("nan")
    return finite_mean(values.to_numpy(dtype=float))


def _fallback_note(values: pd.Series) -> str:
    used = values.dropna()
    if used.empty:
        return ""
    return f"fallback {used.iloc[0]} in {len(used)}/{len(values)} samples"


def scene_means(records: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Mean over samples within each scene (and which scenes fell back to something)."""
    present = [m for m in metrics if m in records.columns]
    grouped = records.groupby(["method", "scene", "task"], sort=True)
    out = grouped[present].agg(mean_or_nan) if present else grouped.size().to_frame("n").drop(columns="n")
    out["samples"] = grouped.size()
    out["fallback"] = grouped["fallback"].agg(_fallback_note) if "fallback" in records else ""
    for m in metrics:
        if m not in out.columns:
            out[m] = np.nan
    return in_scene_order(out.reset_index(), ["method", "scene"], records["scene"])


def compute_hours(records: pd.DataFrame) -> float | None:
    """Hours of compute per scene, mean over scenes: a scene's fit once (the longest one recorded:
    a resumed scene's records say what each process took) plus every sample's generation."""
    if records.empty or "sample_seconds" not in records or records["sample_seconds"].isna().all():
        return None
    per_scene = records.groupby(["method", "scene"]).agg(
        fit=("fit_seconds", "max"), sample=("sample_seconds", "sum"))
    return float((per_scene["fit"].fillna(0) + per_scene["sample"].fillna(0)).mean() / 3600.0)


def peak_memory_gib(records: pd.DataFrame) -> float | None:
    if "peak_memory_bytes" not in records or records["peak_memory_bytes"].isna().all():
        return None
    return float(records["peak_memory_bytes"].max() / 2**30)


def scene_summary(records: pd.DataFrame, metrics: Sequence[str], unavailable: Sequence[str] = (),
                  per_scene: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-scene means plus a final mean-over-scenes row (the run's headline numbers); metrics the
    run could not compute read ``unavailable``, fallbacks are named in a ``note`` column.
    ``per_scene``: ``scene_means(records, metrics)`` when the caller has it already."""
    per_scene = scene_means(records, metrics) if per_scene is None else per_scene
    rows = per_scene[["scene", "task", "samples", *metrics]].copy()
    mean_row = {"scene": "(mean over scenes)", "task": "", "samples": int(rows["samples"].sum())}
    mean_row.update({m: mean_or_nan(per_scene[m]) for m in metrics})
    table = pd.concat([rows, pd.DataFrame([mean_row])], ignore_index=True)
    for m in metrics:
        if m in unavailable:
            table[m] = UNAVAILABLE
    notes = list(per_scene["fallback"]) + [""]
    if any(notes):
        fell = sum(bool(n) for n in notes)
        notes[-1] = f"{fell} of {len(per_scene)} scenes fell back"
        table["note"] = notes
    return table


def _require_ranks(records: pd.DataFrame) -> None:
    if "correspondences" not in records or records["correspondences"].isna().any():
        raise RealBenchError("some samples have no correspondence score; rerun `realbench evaluate` with the same "
                             "--out (without --no-select) to score them")


def select_top(records: pd.DataFrame, keep: int | None = None, filter_rate: float | None = None) -> pd.DataFrame:
    """Per (method, scene), the ``keep`` samples with most correspondences, or all but the lowest-ranked
    ``filter_rate`` percent (RealFill's seed selection). Ties go to the lower sample index."""
    _require_ranks(records)
    ranked = records.sort_values(["method", "scene", "correspondences", "sample"],
                                 ascending=[True, True, False, True], kind="stable")
    parts = []
    for _, group in ranked.groupby(["method", "scene"], sort=True):
        n = keep if keep is not None else keep_count(len(group), filter_rate or 0.0)
        parts.append(group.head(n))
    return in_scene_order(pd.concat(parts), ["method", "scene", "sample"], records["scene"])
