"""From records to tables: per-scene summaries, leaderboards, regression checks, comparisons.

The protocol of RealFill's Table 1: average a metric over a scene's samples, then average the
scene means over scenes (each scene weighs the same, however many samples it has).
Summarising is separate from running (HELM-style): every table is rebuilt from what the run
recorded (``run.json`` and ``records.jsonl``), and every row says which run it is (label,
method, config hash) and which data it was measured on (name and content checksum).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .benchmarks import get_definition
from .errors import RealBenchError
from .formatting import (
    UNAVAILABLE,
    format_value,
    is_metric_column,
    metric_of,
    read_table,
    to_csv,
    to_markdown,
    to_text,
    write_table,
)
from .resources import paper_dir
from .runview import RunView, load_meta, metric_info, read_run, read_runs
from .stats import bootstrap_ci, paired_test
from .summary import mean_or_nan, scene_means, scene_summary, select_top

PROTOCOLS = "protocols"  # column: the metric protocol versions a row's values were computed under
IDENTITY = ["run", "method", "data"]

__all__ = ["check", "compare", "format_value", "leaderboard", "load_meta", "load_records", "read_table",
           "scene_summary", "to_csv", "to_markdown", "to_text", "write_table"]


def arrow(info: dict[str, Any]) -> str:
    return "↑" if info["higher_is_better"] else "↓"


def column(name: str, views: Sequence[RunView]) -> str:
    """Table column of a metric, with its direction arrow as the runs recorded it: ``psnr ↑``."""
    return f"{name} {arrow(metric_info(name, views))}"


def load_records(run_dir: Any) -> pd.DataFrame:
    """One row per (method, scene, sample), the last record of each winning; metrics as columns."""
    return read_run(run_dir).records


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
            raise RealBenchError(f"cannot read protocol versions '{text}' (expected e.g. psnr=v2;ssim=v2)") from None
    return out


def _rows(view: RunView, per_scene: pd.DataFrame, metrics: Sequence[str], ci: bool, splits: Sequence[str],
          extra: dict, columns: dict[str, str]) -> list[dict]:
    versions = view.versions()
    unavailable = [m for m in metrics if m in view.unavailable]
    rows = []
    for split in splits:
        part = per_scene if split == "all" else per_scene[per_scene["task"] == split]
        if part.empty:
            continue
        row = {"run": view.label, "method": view.method, "data": view.data, "split": split, **extra,
               "scenes": len(part), "samples": int(part["samples"].sum())}
        for m in metrics:
            row[columns[m]] = mean_or_nan(part[m])
            if ci:
                row[f"{columns[m]} ci95"] = "[{:.4g}, {:.4g}]".format(*bootstrap_ci(part[m].to_numpy()))
        fell = int((part["fallback"] != "").sum()) if "fallback" in part else 0
        row["notes"] = f"fallback on {fell} of {len(part)} scenes" if fell else ""
        row[UNAVAILABLE] = ",".join(unavailable)
        row[PROTOCOLS] = format_protocols({m: versions[m] for m in metrics if m in versions})
        row["device"] = view.device_class
        row["config_hash"] = view.config_hash
        row["source"] = "measured"
        rows.append(row)
    return rows


def leaderboard(runs: Sequence[Any], metrics: Sequence[str] | str | None = None,
                filter_rates: Sequence[float] | None = None, ci: bool = False, with_paper: bool = False,
                allow_mixed_data: bool = False) -> pd.DataFrame:
    """Rows per run (and task split), columns per metric with arrows; mean over scenes of scene means.

    ``runs`` are run folders or ``RunResult`` objects, all on the same data (name and content
    checksum) unless ``allow_mixed_data``. ``filter_rates`` gives RealFill's Table 2 layout instead:
    per run, one row per rate of lowest-ranked samples dropped (by correspondences), from the
    samples already scored. ``ci`` adds 95 % bootstrap intervals over scenes; ``with_paper`` adds
    the reported rows of ``results/paper/`` marked as such.
    """
    views = read_runs(runs, allow_mixed_data)
    if isinstance(metrics, str):  # "psnr" or "psnr,ssim", as on the command line
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    if metrics is None:
        metrics = list(dict.fromkeys(m for view in views for m in view.metrics))
    columns = {m: column(m, views) for m in metrics}
    rows = []
    for view in views:
        records = view.records
        if filter_rates is None:
            rows += _rows(view, scene_means(records, metrics), metrics, ci, view.splits, {}, columns)
            continue
        for rate in filter_rates:
            if not 0 <= rate < 100:
                raise RealBenchError(f"filter rate {rate:g} must be in [0, 100)")
            kept = select_top(records, filter_rate=rate)
            rows += _rows(view, scene_means(kept, metrics), metrics, ci, ("all",), {"filter": f"{rate:g}%"},
                          columns)
    table = pd.DataFrame(rows)
    if table.empty:
        raise RealBenchError("the run folders hold no records", path=", ".join(str(v.path) for v in views))
    if filter_rates is None and metrics:
        ascending = not metric_info(metrics[0], views)["higher_is_better"]
        order = list(dict.fromkeys(split for view in views for split in view.splits))
        table["_split"] = table["split"].map({s: i for i, s in enumerate(order)})
        table = table.sort_values(["_split", columns[metrics[0]]], ascending=[True, ascending],
                                  kind="stable", na_position="last").drop(columns="_split")
    if with_paper:
        layout = "table2" if filter_rates is not None else "table1"
        table = pd.concat([table, paper_rows(metrics, files=views[0].reported(layout))],
                          ignore_index=True)
    return table.reset_index(drop=True)


def paper_rows(metrics: Sequence[str], table2: bool = False, files: Sequence[str] | None = None) -> pd.DataFrame:
    """Reported numbers (results/paper/*.csv: ``files``, else those the default benchmark lists
    for Table 1 or 2), marked ``reported: <source>``; never computed here."""
    if files is None:
        files = get_definition().reported.get("table2" if table2 else "table1", ())
    if not files:
        raise RealBenchError("this benchmark has no reported numbers for that table layout")
    frames = []
    for name in files:
        path = paper_dir() / name
        if not path.is_file():
            raise RealBenchError("paper numbers not found (they ship in the repository's results/paper/)",
                                 path=str(path))
        frame = pd.read_csv(path)
        frame["source"] = "reported: " + frame["source"]
        frame["run"] = frame["method"] + " (paper)"
        frame["method"] = frame["method"] + " (paper)"
        frames.append(frame)
    paper = pd.concat(frames, ignore_index=True)
    keep = [c for c in paper.columns if not is_metric_column(c) or metric_of(c) in metrics]
    return paper[keep]


@dataclass
class CheckResult:
    passed: bool
    diffs: pd.DataFrame  # one row per compared value
    protocol_changes: list[str] = field(default_factory=list)  # metrics whose protocol version differs

    @property
    def comparable(self) -> bool:
        """False when the baseline was made under another protocol version of some metric."""
        return not self.protocol_changes

    def report(self) -> str:
        if self.protocol_changes:
            return ("check NOT COMPARABLE: the baseline was made under another metric protocol version ("
                    + "; ".join(self.protocol_changes) + "); the values measure different things, so this is "
                    "neither a pass nor a regression. Regenerate the baseline under the current protocol "
                    "(realbench leaderboard RUN --out BASELINE) after checking why the protocol changed.")
        failed = self.diffs[~self.diffs["ok"]]
        if self.passed:
            return f"check passed: {len(self.diffs)} values within tolerance"
        lines = [f"check FAILED: {len(failed)} of {len(self.diffs)} values moved past tolerance"]
        lines.append(to_text(failed.drop(columns="ok")))
        return "\n".join(lines)


def _close(value: float, expected: float, rtol: float, atol: float) -> bool:
    if math.isnan(expected) or math.isnan(value):
        return math.isnan(expected) and math.isnan(value)
    if math.isinf(expected) or math.isinf(value):
        return value == expected
    return abs(value - expected) <= atol + rtol * abs(expected)


def _key_column(table: pd.DataFrame) -> str:
    """Rows are matched by run label; baselines written before labels existed, by method."""
    return "run" if "run" in table.columns else "method"


def check(runs: Sequence[Any] | Any, baseline: str | Path, rtol: dict[str, float] | None = None,
          atol: dict[str, float] | None = None) -> CheckResult:
    """Compare runs' leaderboard rows against a committed baseline table, metric by metric.

    Default tolerances come from each metric's metadata: ``default_atol`` when both the run and
    the baseline computed on the CPU (bit-reproducible), the looser ``gpu_atol`` when either used a
    GPU; ``atol``/``rtol`` override them per metric."""
    if isinstance(runs, (str, Path)) or hasattr(runs, "run_dir"):
        runs = [runs]
    rtol, atol = dict(rtol or {}), dict(atol or {})
    expected = read_table(baseline)
    key = _key_column(expected)
    missing_columns = {key, "split", "scenes"} - set(expected.columns)
    metric_columns = [c for c in expected.columns if is_metric_column(c)]
    if missing_columns or not metric_columns:
        raise RealBenchError("not a realbench leaderboard table: it lacks "
                             f"{', '.join(sorted(missing_columns)) or 'metric'} "
                             "columns (write one with `realbench leaderboard RUN --out FILE.csv`)", path=str(baseline))
    for name in [*rtol, *atol]:
        if name not in {metric_of(c) for c in metric_columns}:
            raise RealBenchError(f"tolerance given for '{name}', which the baseline does not have", path=str(baseline))
    views = read_runs(runs)
    actual = leaderboard(views, [metric_of(c) for c in metric_columns])
    actual_rows = {(r[key], r["split"]): r for r in actual.to_dict("records")}
    source = expected["source"] if "source" in expected else pd.Series("measured", index=expected.index)
    expected = expected[source.fillna("measured").astype(str).str.startswith("measured")]
    changes = _protocol_changes(expected, actual_rows, key, [metric_of(c) for c in metric_columns])
    if changes:
        return CheckResult(False, pd.DataFrame(), changes)
    infos = {metric_of(c): metric_info(metric_of(c), views) for c in metric_columns}
    diffs = []
    on_gpu = "gpu" in {str(r.get("device")) for r in actual_rows.values()} | set(
        expected["device"].astype(str) if "device" in expected else [])
    for row in expected.to_dict("records"):
        row_key = (row[key], row["split"])
        got = actual_rows.get(row_key)
        if got is None:
            diffs.append({"run": row_key[0], "split": row_key[1], "value": "scenes", "baseline": row["scenes"],
                          "run value": "missing", "diff": "", "tolerance": "", "ok": False})
            continue
        if int(got["scenes"]) != int(row["scenes"]):
            diffs.append({"run": row_key[0], "split": row_key[1], "value": "scenes", "baseline": row["scenes"],
                          "run value": got["scenes"], "diff": "", "tolerance": "exact", "ok": False})
        for col in metric_columns:
            name = metric_of(col)
            default = infos[name].get("gpu_atol", 5e-3) if on_gpu else infos[name].get("default_atol", 1e-4)
            a, r = atol.get(name, default), rtol.get(name, 0.0)
            base_value, run_value = float(row[col]), float(got[col])
            ok = _close(run_value, base_value, r, a)
            diff = run_value - base_value if np.isfinite(run_value) and np.isfinite(base_value) else float("nan")
            diffs.append({"run": row_key[0], "split": row_key[1], "value": col,
                          "baseline": format_value(col, base_value), "run value": format_value(col, run_value),
                          "diff": f"{diff:+.6g}", "tolerance": f"atol {a:g} rtol {r:g}", "ok": ok})
    frame = pd.DataFrame(diffs)
    return CheckResult(bool(frame["ok"].all()) if not frame.empty else False, frame)


def _protocol_changes(expected: pd.DataFrame, actual_rows: dict, key: str, metrics: Sequence[str]) -> list[str]:
    """Metric protocol versions that differ between baseline rows and the run's rows. A
    baseline without a protocols column predates versioning: all its metrics count as v1."""
    changes = []
    for row in expected.to_dict("records"):
        got = actual_rows.get((row[key], row["split"]))
        if got is None:
            continue
        base = parse_protocols(row.get(PROTOCOLS)) if PROTOCOLS in expected.columns else {}
        now = parse_protocols(got.get(PROTOCOLS))
        for name in metrics:
            before, after = base.get(name, 1), now.get(name, 1)
            if before != after:
                note = "" if PROTOCOLS in expected.columns else " (it records no versions, so it predates versioning)"
                changes.append(f"{name}: baseline v{before}{note}, run v{after}")
    return list(dict.fromkeys(changes))


def compare(run_a: Any, run_b: Any, metrics: Sequence[str] | str | None = None,
            allow_mixed_data: bool = False) -> pd.DataFrame:
    """Per metric, over the scenes both runs scored: both means, the mean paired difference
    (B - A) with its 95 % t interval, the bootstrap interval, t-test and Wilcoxon p-values, and a
    verdict that says "better" only when the t interval excludes 0 (else "no significant
    difference"), flagged as weak when the other two disagree."""
    view_a, view_b = read_runs([run_a, run_b], allow_mixed_data)
    if isinstance(metrics, str):  # "psnr" or "psnr,ssim", as on the command line
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    if metrics is None:
        metrics = [m for m in view_a.metrics if m in view_b.metrics]
    a = scene_means(view_a.records, metrics).set_index("scene")
    b = scene_means(view_b.records, metrics).set_index("scene")
    common = sorted(set(a.index) & set(b.index), key=view_a.sort_key)
    if not common:
        raise RealBenchError("the two runs share no scene", path=f"{view_a.path}, {view_b.path}")
    rows = []
    for m in metrics:
        x, y = a.loc[common, m].to_numpy(float), b.loc[common, m].to_numpy(float)
        info = metric_info(m, [view_a, view_b])
        result = paired_test(x, y, higher_is_better=info["higher_is_better"])
        verdict = {"B better": f"B ({view_b.label}) better", "A better": f"A ({view_a.label}) better"}.get(
            result["verdict"], result["verdict"])
        rows.append({"metric": column(m, [view_a, view_b]), "scenes": len(common), "A": float(np.mean(x)),
                     "B": float(np.mean(y)), "B - A": result["mean_diff"], "ci95 low": result["ci_low"],
                     "ci95 high": result["ci_high"], "bootstrap low": result["boot_low"],
                     "bootstrap high": result["boot_high"], "p (t-test)": result["p_ttest"],
                     "p (Wilcoxon)": result["p_wilcoxon"], "verdict": verdict, "note": result["note"]})
    return pd.DataFrame(rows)
