"""From records to tables: per-scene summaries, leaderboards, regression checks.

The protocol of RealFill's Table 1: average a metric over a scene's samples, then average the
scene means over scenes (each scene weighs the same, however many samples it has).
Summarising is separate from running (HELM-style): every table is rebuilt from ``records.jsonl``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .errors import RealBenchError
from .imageio import atomic_write_bytes
from .records import protocol_version, read_records
from .scene import natural_key

SPLITS = ("all", "outpaint", "inpaint")
UNAVAILABLE = "unavailable"
ID_COLUMNS = ["method", "split", "scenes", "samples"]
PROTOCOLS = "protocols"  # column: the metric protocol versions a row's values were computed under


def metric_info(name: str):
    from metrics import METRICS

    return METRICS.get(name).info


def column(name: str) -> str:
    """Table column of a metric, with its direction arrow: ``psnr ↑``."""
    return f"{name} {metric_info(name).arrow}"


def metric_of(column_name: str) -> str:
    return column_name.split(" ")[0]


def load_meta(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise RealBenchError("not a realbench run folder (no run.json)", path=str(run_dir))
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise RealBenchError("run.json is corrupt", path=str(path)) from None


def load_records(run_dir: str | Path) -> pd.DataFrame:
    """One row per (method, scene, sample), the last record of each winning; metrics as columns."""
    latest: dict[tuple, dict] = {}
    for record in read_records(Path(run_dir) / "records.jsonl"):
        latest[(record.get("method"), record["scene"], record["sample"])] = record
    rows = []
    for record in latest.values():
        row = {k: record.get(k) for k in ("method", "scene", "task", "sample", "seed", "config_hash", "image",
                                          "correspondences")}
        for name, value in record.get("metrics", {}).items():
            row[name] = np.nan if value is None else float(value)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["method", "scene", "task", "sample", "seed", "config_hash", "image"])
    return in_scene_order(frame, ["method", "scene", "sample"])


def in_scene_order(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """``frame`` sorted by ``by`` with scene ids in natural order (0, 1, 2, ..., 10)."""
    if frame.empty:
        return frame.reset_index(drop=True)
    order = {scene: i for i, scene in enumerate(sorted(frame["scene"].unique(), key=natural_key))}
    keyed = frame.assign(_scene_order=frame["scene"].map(order))
    columns = ["_scene_order" if c == "scene" else c for c in by]
    return keyed.sort_values(columns, kind="stable").drop(columns="_scene_order").reset_index(drop=True)


def protocol_versions(run_dir: str | Path, metrics: Sequence[str]) -> dict[str, int]:
    """Per metric, the protocol version of the run's recorded values (records made before
    versioning count as version 1). A run holding two versions of one metric is refused: its
    values would average two different computations."""
    latest: dict[tuple, dict] = {}
    for record in read_records(Path(run_dir) / "records.jsonl"):
        latest[(record.get("method"), record["scene"], record["sample"])] = record
    seen: dict[str, set[int]] = {}
    for record in latest.values():
        for name in metrics:
            if (record.get("metrics") or {}).get(name) is not None:
                seen.setdefault(name, set()).add(protocol_version((record.get("metric_protocols") or {}).get(name)))
    for name, versions in seen.items():
        if len(versions) > 1:
            raise RealBenchError(f"the run holds '{name}' values of protocol versions {sorted(versions)}; rerun "
                                 "`realbench evaluate` on it (same --out) to rescore them under one version",
                                 path=str(run_dir))
    return {name: versions.pop() for name, versions in seen.items()}


def format_protocols(versions: dict[str, int]) -> str:
    return ";".join(f"{name}=v{version}" for name, version in versions.items())


def parse_protocols(text: Any) -> dict[str, int]:
    if not isinstance(text, str) or not text.strip():
        return {}
    out = {}
    for part in text.split(";"):
        name, _, version = part.partition("=")
        out[name.strip()] = int(version.strip().lstrip("v"))
    return out


def _mean(values: pd.Series) -> float:
    """Mean that keeps +inf (a perfect PSNR) and is NaN ('unavailable') if any value is missing."""
    if values.isna().any():
        return float("nan")
    return float(values.astype(float).mean())


def scene_means(records: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Mean over samples within each scene."""
    present = [m for m in metrics if m in records.columns]
    grouped = records.groupby(["method", "scene", "task"], sort=True)
    out = grouped[present].agg(_mean) if present else grouped.size().to_frame("n").drop(columns="n")
    out["samples"] = grouped.size()
    for m in metrics:
        if m not in out.columns:
            out[m] = np.nan
    return in_scene_order(out.reset_index(), ["method", "scene"])


def scene_summary(records: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Per-scene means plus a final mean-over-scenes row (the run's headline numbers)."""
    per_scene = scene_means(records, metrics)
    rows = per_scene[["scene", "task", "samples", *metrics]].copy()
    mean_row = {"scene": "(mean over scenes)", "task": "", "samples": int(rows["samples"].sum())}
    mean_row.update({m: _mean(per_scene[m]) for m in metrics})
    return pd.concat([rows, pd.DataFrame([mean_row])], ignore_index=True)


def write_summary(run_dir: str | Path, keep: int | None = None) -> pd.DataFrame:
    """``summary.csv`` over all samples, and ``summary-top{K}.csv`` over the K best-ranked per scene."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    records = load_records(run_dir)
    summary = scene_summary(records, meta["metrics"])
    atomic_write_bytes(run_dir / "summary.csv", to_csv(summary).encode())
    if keep is not None:
        top = scene_summary(select_top(records, keep=keep), meta["metrics"])
        atomic_write_bytes(run_dir / f"summary-top{keep}.csv", to_csv(top).encode())
        return top
    return summary


def _require_ranks(records: pd.DataFrame) -> None:
    if "correspondences" not in records or records["correspondences"].isna().any():
        raise RealBenchError("some samples have no correspondence score; rerun `realbench evaluate` with the same "
                             "--out (without --no-select) to score them")


def select_top(records: pd.DataFrame, keep: int | None = None, filter_rate: float | None = None) -> pd.DataFrame:
    """Per (method, scene), the ``keep`` samples with most correspondences, or all but the lowest-ranked
    ``filter_rate`` percent (RealFill's seed selection). Ties go to the lower sample index."""
    from .selection import keep_count

    _require_ranks(records)
    ranked = records.sort_values(["method", "scene", "correspondences", "sample"],
                                 ascending=[True, True, False, True], kind="stable")
    parts = []
    for _, group in ranked.groupby(["method", "scene"], sort=True):
        n = keep if keep is not None else keep_count(len(group), filter_rate or 0.0)
        parts.append(group.head(n))
    return in_scene_order(pd.concat(parts), ["method", "scene", "sample"])


def is_metric_column(name: str) -> bool:
    parts = name.split(" ")
    return len(parts) == 2 and parts[1] in ("↑", "↓")


def _rows(label: str, meta: dict, per_scene: pd.DataFrame, metrics: Sequence[str], ci: bool,
          splits: Sequence[str], extra: dict, versions: dict[str, int]) -> list[dict]:
    from .stats import bootstrap_ci

    rows = []
    for split in splits:
        part = per_scene if split == "all" else per_scene[per_scene["task"] == split]
        if part.empty:
            continue
        row = {"method": label, "split": split, **extra, "scenes": len(part), "samples": int(part["samples"].sum())}
        for m in metrics:
            row[column(m)] = _mean(part[m])
            if ci:
                row[f"{column(m)} ci95"] = "[{:.4g}, {:.4g}]".format(*bootstrap_ci(part[m].to_numpy()))
        row[PROTOCOLS] = format_protocols({m: versions[m] for m in metrics if m in versions})
        row["config_hash"] = meta["config_hash"]
        row["source"] = "measured"
        rows.append(row)
    return rows


def leaderboard(run_dirs: Sequence[str | Path], metrics: Sequence[str] | None = None,
                filter_rates: Sequence[float] | None = None, ci: bool = False,
                with_paper: bool = False) -> pd.DataFrame:
    """Rows per method (and task split), columns per metric with arrows; mean over scenes of scene means.

    ``filter_rates`` gives RealFill's Table 2 layout instead: per method, one row per rate of
    lowest-ranked samples dropped (by correspondences), from the samples already scored.
    ``ci`` adds 95 % bootstrap intervals over scenes; ``with_paper`` adds the reported rows of
    ``results/paper/`` marked as such.
    """
    if not run_dirs:
        raise RealBenchError("give at least one run folder")
    metas = [load_meta(d) for d in run_dirs]
    if metrics is None:
        metrics = list(dict.fromkeys(m for meta in metas for m in meta["metrics"]))
    methods = [meta["method"] for meta in metas]
    rows = []
    for run_dir, meta in zip(run_dirs, metas):
        label = meta["method"] if methods.count(meta["method"]) == 1 else f"{meta['method']}@{meta['config_hash'][:6]}"
        records = load_records(run_dir)
        versions = protocol_versions(run_dir, metrics)
        if filter_rates is None:
            rows += _rows(label, meta, scene_means(records, metrics), metrics, ci, SPLITS, {}, versions)
            continue
        for rate in filter_rates:
            if not 0 <= rate < 100:
                raise RealBenchError(f"filter rate {rate:g} must be in [0, 100)")
            kept = select_top(records, filter_rate=rate)
            rows += _rows(label, meta, scene_means(kept, metrics), metrics, ci, ("all",), {"filter": f"{rate:g}%"},
                          versions)
    table = pd.DataFrame(rows)
    if table.empty:
        raise RealBenchError("the run folders hold no records", path=", ".join(map(str, run_dirs)))
    if filter_rates is None and metrics:
        ascending = not metric_info(metrics[0]).higher_is_better
        table["_split"] = table["split"].map({s: i for i, s in enumerate(SPLITS)})
        table = table.sort_values(["_split", column(metrics[0])], ascending=[True, ascending],
                                  kind="stable").drop(columns="_split")
    if with_paper:
        table = pd.concat([table, paper_rows(metrics, table2=filter_rates is not None)], ignore_index=True)
    return table.reset_index(drop=True)


PAPER_DIR = Path(__file__).resolve().parent.parent / "results" / "paper"


def paper_rows(metrics: Sequence[str], table2: bool = False) -> pd.DataFrame:
    """Reported numbers (results/paper/*.csv), marked ``reported: <source>``; never computed here."""
    files = ["realfill_table2.csv"] if table2 else ["realfill_table1.csv", "geocomplete.csv"]
    frames = []
    for name in files:
        path = PAPER_DIR / name
        if not path.is_file():
            raise RealBenchError("paper numbers not found (they ship in the repository's results/paper/)",
                                 path=str(path))
        frame = pd.read_csv(path)
        frame["source"] = "reported: " + frame["source"]
        frame["method"] = frame["method"] + " (paper)"
        frames.append(frame)
    paper = pd.concat(frames, ignore_index=True)
    keep = [c for c in paper.columns if not is_metric_column(c) or metric_of(c) in metrics]
    return paper[keep]


def format_value(column_name: str, value: Any) -> str:
    """Paper-style rounding for metric columns (`unavailable` for a missing value); plain elsewhere."""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return UNAVAILABLE if is_metric_column(column_name) else ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if column_name.startswith("p ("):
            return f"{value:.3g}"
        if not is_metric_column(column_name) and column_name in ("scenes", "samples") and value.is_integer():
            return str(int(value))
        return f"{value:.2f}" if metric_of(column_name) == "psnr" else f"{value:.3f}"
    return str(value)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table, values rounded the way the paper prints them."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(table[c]) else "---" for c in table.columns) + "|"
    body = ["| " + " | ".join(format_value(c, v) for c, v in zip(table.columns, row)) + " |"
            for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def to_text(table: pd.DataFrame) -> str:
    """Aligned plain-text rendering for the terminal."""
    cells = [list(map(str, table.columns))]
    cells += [[format_value(c, v) for c, v in zip(table.columns, row)] for row in table.itertuples(index=False)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in cells]
    return "\n".join(lines)


def to_csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, na_rep=UNAVAILABLE, float_format="%.10g")


def write_table(table: pd.DataFrame, out: str | Path) -> tuple[Path, Path]:
    """Write ``out`` (CSV) and its Markdown twin ``out`` with ``.md``."""
    out = Path(out)
    md = out.with_suffix(".md")
    atomic_write_bytes(out, to_csv(table).encode())
    atomic_write_bytes(md, to_markdown(table).encode())
    return out, md


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise RealBenchError("baseline table is missing", path=str(path))
    try:
        return pd.read_csv(path, na_values=[UNAVAILABLE], keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise RealBenchError(f"cannot parse table ({exc})", path=str(path)) from None


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


def check(run_dirs: Sequence[str | Path] | str | Path, baseline: str | Path,
          rtol: dict[str, float] | None = None, atol: dict[str, float] | None = None) -> CheckResult:
    """Compare a run's leaderboard rows against a committed baseline table, metric by metric."""
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    rtol, atol = dict(rtol or {}), dict(atol or {})
    expected = read_table(baseline)
    metric_columns = [c for c in expected.columns if is_metric_column(c)]
    for name in [*rtol, *atol]:
        if name not in {metric_of(c) for c in metric_columns}:
            raise RealBenchError(f"tolerance given for '{name}', which the baseline does not have", path=str(baseline))
    actual = leaderboard(run_dirs, [metric_of(c) for c in metric_columns])
    actual_rows = {(r["method"], r["split"]): r for r in actual.to_dict("records")}
    changes = _protocol_changes(expected, actual_rows, [metric_of(c) for c in metric_columns])
    if changes:
        return CheckResult(False, pd.DataFrame(), changes)
    expected = expected[expected.get("source", pd.Series("measured", index=expected.index)).fillna("measured")
                        .astype(str).str.startswith("measured")]
    diffs = []
    for row in expected.to_dict("records"):
        key = (row["method"], row["split"])
        got = actual_rows.get(key)
        if got is None:
            diffs.append({"method": key[0], "split": key[1], "value": "scenes", "baseline": row["scenes"],
                          "run": "missing", "diff": "", "tolerance": "", "ok": False})
            continue
        if int(got["scenes"]) != int(row["scenes"]):
            diffs.append({"method": key[0], "split": key[1], "value": "scenes", "baseline": row["scenes"],
                          "run": got["scenes"], "diff": "", "tolerance": "exact", "ok": False})
        for col in metric_columns:
            name = metric_of(col)
            info = metric_info(name)
            a, r = atol.get(name, info.default_atol), rtol.get(name, 0.0)
            base_value, run_value = float(row[col]), float(got[col])
            ok = _close(run_value, base_value, r, a)
            diff = run_value - base_value if np.isfinite(run_value) and np.isfinite(base_value) else float("nan")
            diffs.append({"method": key[0], "split": key[1], "value": col, "baseline": format_value(col, base_value),
                          "run": format_value(col, run_value), "diff": f"{diff:+.6g}",
                          "tolerance": f"atol {a:g} rtol {r:g}", "ok": ok})
    frame = pd.DataFrame(diffs)
    return CheckResult(bool(frame["ok"].all()) if not frame.empty else False, frame)


def _protocol_changes(expected: pd.DataFrame, actual_rows: dict, metrics: Sequence[str]) -> list[str]:
    """Metric protocol versions that differ between baseline rows and the run's rows. A
    baseline without a protocols column predates versioning: all its metrics count as v1."""
    changes = []
    for row in expected.to_dict("records"):
        got = actual_rows.get((row["method"], row["split"]))
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


def compare(run_a: str | Path, run_b: str | Path, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Per metric: means of both runs over their common scenes, the mean paired difference (B - A)
    with a 95 % bootstrap interval, paired t-test and Wilcoxon p-values, and which run is better."""
    from .stats import paired_test

    meta_a, meta_b = load_meta(run_a), load_meta(run_b)
    if metrics is None:
        metrics = [m for m in meta_a["metrics"] if m in meta_b["metrics"]]
    a = scene_means(load_records(run_a), metrics).set_index("scene")
    b = scene_means(load_records(run_b), metrics).set_index("scene")
    common = sorted(set(a.index) & set(b.index), key=natural_key)
    if not common:
        raise RealBenchError("the two runs share no scene", path=f"{run_a}, {run_b}")
    rows = []
    for m in metrics:
        x, y = a.loc[common, m].to_numpy(float), b.loc[common, m].to_numpy(float)
        result = paired_test(x, y)
        higher = metric_info(m).higher_is_better
        diff = result["mean_diff"]
        better = "tie" if not np.isfinite(diff) or diff == 0 else ("B" if (diff > 0) == higher else "A")
        rows.append({"metric": column(m), "scenes": len(common), "A": float(np.mean(x)), "B": float(np.mean(y)),
                     "B - A": diff, "ci95 low": result["ci_low"], "ci95 high": result["ci_high"],
                     "p (t-test)": result["p_ttest"], "p (Wilcoxon)": result["p_wilcoxon"], "better": better})
    return pd.DataFrame(rows)
