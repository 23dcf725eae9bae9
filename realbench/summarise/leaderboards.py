"""Leaderboards: rows per run (and task split), a column per metric; the protocol of RealFill's
Table 1 (average a metric over a scene's samples, then the scene means over scenes, so each scene
weighs the same however many samples it has). Summarising is separate from running (HELM-style):
every table is rebuilt from what the run recorded, and every row says which run it is (label,
method, config hash) and which data it was measured on (name and content checksum).

Metric columns are plain metric names; ``table.attrs["metrics"]`` says which columns are metrics
and which way each is better (the renderers add arrows for people), ``table.attrs["notes"]`` what
a reader must know about the table (e.g. paper rows measured on other data).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from realbench.core.errors import RealBenchError
from realbench.core.fields import text_list

from .formatting import UNAVAILABLE
from .paper import paper_rows, paper_scope_note
from .runview import RunView, metric_info, read_runs
from .stats import bootstrap_ci
from .summary import compute_hours, mean_or_nan, peak_memory_gib, scene_means, select_top

PROTOCOLS = "protocols"  # column: the metric protocol versions a row's values were computed under


def format_protocols(versions: dict[str, int]) -> str:
    return ";".join(f"{name}=v{version}" for name, version in versions.items())


def parse_protocols(text: Any) -> dict[str, int]:
    if not isinstance(text, str) or not text.strip():
        return {}
    out = {}
    for part in text.split(";"):
        name, _, version = part.partition("=")
        try:
            out[name.strip()] = int(version.strip().lstrip("v"))
        except ValueError:
            raise RealBenchError(f"cannot read protocol versions '{text[:80]}' "
                                 "(expected e.g. psnr=v2;ssim=v2)") from None
    return out


def directions(metrics: Sequence[str], views: Sequence[RunView]) -> dict[str, bool]:
    """Metric -> higher is better, as the runs recorded it."""
    return {m: bool(metric_info(m, views)["higher_is_better"]) for m in metrics}


def _notes(view: RunView, part: pd.DataFrame, samples: pd.DataFrame, missing: list[str]) -> str:
    notes = []
    fell = int((part["fallback"] != "").sum()) if "fallback" in part else 0
    if fell:
        notes.append(f"fallback on {fell} of {len(part)} scenes")
    if "protocol" in samples:
        notes += sorted(str(p) for p in samples["protocol"].dropna().unique())
    if missing:
        notes.append(f"no value for {', '.join(missing)} in some samples (see the records' metric_errors)")
    if view.partial:
        notes.append("partial merge: " + "; ".join(view.partial))
    return "; ".join(notes)


def _rows(view: RunView, per_scene: pd.DataFrame, records: pd.DataFrame, metrics: Sequence[str], ci: bool,
          splits: Sequence[str], extra: dict) -> list[dict]:
    versions = view.versions()
    rows = []
    for split in splits:
        part = per_scene if split == "all" else per_scene[per_scene["task"] == split]
        samples = records if split == "all" else records[records["task"] == split]
        if part.empty:
            continue
        row = {"run": view.label, "method": view.method, "data": view.data, "split": split, **extra,
               "scenes": len(part), "samples": int(part["samples"].sum())}
        for m in metrics:
            row[m] = mean_or_nan(part[m])
        if ci:
            for m in metrics:
                row[f"{m}_ci95_low"], row[f"{m}_ci95_high"] = bootstrap_ci(part[m].to_numpy())
        # asked for, yet missing in some samples (not finite, say): unavailable, never "not asked for"
        missing = [m for m in metrics if m in view.metrics and m not in view.unavailable and pd.isna(row[m])]
        row["notes"] = _notes(view, part, samples, missing)
        row[UNAVAILABLE] = ",".join([m for m in metrics if m in view.unavailable] + missing)
        row[PROTOCOLS] = format_protocols({m: versions[m] for m in metrics if m in versions})
        row["compute"] = compute_hours(samples)  # hours per scene on the run's device
        peak = peak_memory_gib(samples)
        if peak is not None:
            row["peak_memory_gib"] = peak
        row.update(device=view.device_class, config_hash=view.config_hash, checksum=view.checksum, source="measured")
        rows.append(row)
    return rows


def leaderboard(runs: Sequence[Any], metrics: Sequence[str] | str | None = None,
                filter_rates: Sequence[float] | None = None, ci: bool = False, with_paper: bool = False,
                allow_mixed_data: bool = False, split: str | None = None) -> pd.DataFrame:
    """Rows per run (and task split), columns per metric; mean over scenes of scene means.

    ``runs`` are run folders or ``RunResult`` objects, all on the same data (content checksum)
    unless ``allow_mixed_data``. ``filter_rates`` gives RealFill's Table 2 layout instead: per run,
    one row per rate of lowest-ranked samples dropped (by correspondences), from the samples
    already scored. ``ci`` adds 95 % bootstrap intervals over scenes; ``with_paper`` adds the
    reported rows of ``results/paper/`` marked as such; ``split`` keeps one split's rows.
    """
    views = read_runs(runs, allow_mixed_data)
    if isinstance(metrics, str):  # "psnr" or "psnr,ssim", as on the command line
        metrics = text_list(metrics)
    if metrics is None:
        metrics = list(dict.fromkeys(m for view in views for m in view.metrics))
    direction = directions(metrics, views)
    rows = []
    for view in views:
        if filter_rates is None:
            rows += _rows(view, scene_means(view.records, metrics), view.records, metrics, ci, view.splits, {})
            continue
        for rate in filter_rates:
            if not 0 <= rate < 100:
                raise RealBenchError(f"filter rate {rate:g} must be in [0, 100)")
            kept = select_top(view.records, filter_rate=rate)
            rows += _rows(view, scene_means(kept, metrics), kept, metrics, ci, ("all",), {"filter": f"{rate:g}%"})
    table = pd.DataFrame(rows)
    if table.empty:
        raise RealBenchError("the run folders hold no records", path=", ".join(str(v.path) for v in views))
    if split is not None:
        table = _one_split(table, split, views)
    table = _sorted(table, metrics, direction, views, filter_rates is None)
    notes = []
    if with_paper:
        layout = "table2" if filter_rates is not None else "table1"
        paper = paper_rows(metrics, files=views[0].reported(layout))
        scope = paper_scope_note(views)
        if scope:  # in the rows themselves, so every file written from the table says it
            paper["notes"] = scope
        table = pd.concat([table, paper], ignore_index=True)
        notes += [scope] if scope else []
    table = table.reset_index(drop=True)
    table.attrs.update(metrics=direction, notes=notes)
    return table


def _one_split(table: pd.DataFrame, split: str, views: Sequence[RunView]) -> pd.DataFrame:
    known = list(dict.fromkeys(s for v in views for s in v.splits))
    if split not in known:
        raise RealBenchError(f"unknown split '{split}' (the runs' benchmark has: {', '.join(known)})")
    chosen = table[table["split"] == split]
    if chosen.empty:
        raise RealBenchError(f"no run has scenes of split '{split}' (their splits: "
                             f"{', '.join(sorted(set(table['split']) - {'all'})) or 'none'})")
    return chosen


def _sorted(table: pd.DataFrame, metrics: Sequence[str], direction: dict[str, bool], views: Sequence[RunView],
            by_metric: bool) -> pd.DataFrame:
    if not (by_metric and metrics):
        return table
    order = list(dict.fromkeys(split for view in views for split in view.splits))
    table = table.assign(_split=table["split"].map({s: i for i, s in enumerate(order)}))
    return table.sort_values(["_split", metrics[0]], ascending=[True, not direction[metrics[0]]],
                             kind="stable", na_position="last").drop(columns="_split")
