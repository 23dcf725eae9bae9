"""``realbench check``: a run's leaderboard rows against a committed baseline, metric by metric,
for CI. A regression is a value past tolerance; a baseline made under another metric protocol
version is neither a pass nor a regression (exit 3); a baseline that does not describe this run
(no row with its label) says so instead of reporting moved values."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from realbench.core.errors import RealBenchError
from realbench.core.fields import brief, text_list
from realbench.core.paths import printable
from realbench.core.words import count
from realbench.metrics import METRICS

from .formatting import UNAVAILABLE, format_value, read_table, to_text
from .leaderboards import PROTOCOLS, leaderboard, parse_protocols
from .runview import metric_info, read_runs

IDENTITY_COLUMNS = {"run", "method", "data", "split", "filter", "scenes", "samples", "notes", UNAVAILABLE, PROTOCOLS,
                    "device", "config_hash", "checksum", "source", "compute", "peak_memory_gib"}


@dataclass
class CheckResult:
    passed: bool
    diffs: pd.DataFrame  # one row per compared value
    protocol_changes: list[str] = field(default_factory=list)  # metrics whose protocol version differs
    not_checked: list[str] = field(default_factory=list)  # baseline runs that were not among the runs given

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
        note = (f"\nnote: the baseline's rows for {', '.join(repr(printable(r)) for r in self.not_checked)} were not "
                "checked: that run was not given" if self.not_checked else "")
        failed = self.diffs[~self.diffs["ok"]]
        if self.passed:
            return f"check passed: {len(self.diffs)} values within tolerance" + note
        moved = failed[failed["run value"] != "missing"]
        missing = failed[failed["run value"] == "missing"]
        parts = ([f"{len(moved)} of {len(self.diffs)} values moved past tolerance"] if len(moved) else []) + (
            [f"{count(len(missing), 'baseline row')} the run no longer has"] if len(missing) else [])
        lines = [f"check FAILED: {'; '.join(parts)}", to_text(failed.drop(columns="ok"))]
        return "\n".join(lines) + note


def _close(value: float, expected: float, rtol: float, atol: float) -> bool:
    if math.isnan(expected) or math.isnan(value):
        return math.isnan(expected) and math.isnan(value)
    if math.isinf(expected) or math.isinf(value):
        return value == expected
    return abs(value - expected) <= atol + rtol * abs(expected)


def _key_column(table: pd.DataFrame) -> str:
    """Rows are matched by run label; baselines written before labels existed, by method."""
    return "run" if "run" in table.columns else "method"


def metric_columns(table: pd.DataFrame) -> list[str]:
    """The baseline's metric columns: those its protocols or unavailable columns name, or an
    older file's arrowed ones."""
    named = set(table.attrs.get("metrics", {})) | set(METRICS.names())
    for text in table.get(PROTOCOLS, pd.Series(dtype=object)).dropna():
        named |= set(parse_protocols(text))
    for text in table.get(UNAVAILABLE, pd.Series(dtype=object)).dropna():
        named |= set(text_list(str(text)) or [])
    return [c for c in table.columns if c in named and c not in IDENTITY_COLUMNS]


def check_tolerances(tolerances: dict[str, float], what: str) -> dict[str, float]:
    for name, value in tolerances.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise RealBenchError(f"{what} {printable(name)}={brief(value)}: a tolerance is a finite number >= 0")
    return {k: float(v) for k, v in tolerances.items()}


def _numeric(expected: pd.DataFrame, cells: list[list[str]], columns: list[str], baseline: str | Path) -> None:
    """Every filled cell of ``columns`` is a finite number (``inf``, ``1e999`` and ``nan`` are not)."""
    for column in columns:
        values = pd.to_numeric(expected[column], errors="coerce")
        bad = ((values.isna() | np.isinf(values)) & expected[column].notna()).to_numpy()
        if bad.any():
            at = int(bad.argmax())
            text = cells[at][list(expected.columns).index(column)]
            raise RealBenchError(f"column '{printable(column)}' holds {brief(text)} in row {int(expected.index[at])}, "
                                 "which is not a finite number", path=str(baseline))


def _raw_rows(baseline: str | Path) -> list[tuple[int, list[str]]]:
    """The table's rows as the file holds them (header first), each with its line number; blank
    lines skipped, as the table reader does."""
    import csv

    with open(baseline, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        return [(reader.line_num, row) for row in reader if row]


def _numbered(expected: pd.DataFrame, baseline: str | Path) -> tuple[pd.DataFrame, list[list[str]]]:
    """``expected`` indexed by each row's line in the file, and the raw cells of its rows; a row
    with fewer or more cells than the header is refused (a truncated row reads as empty cells)."""
    raw = _raw_rows(baseline)
    header, rows = (raw[0][1], raw[1:]) if raw else ([], [])
    names = [str(c).strip().split(" ")[0] for c in header]  # "psnr ↑" (older tables) is psnr
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RealBenchError(f"the header names column '{printable(twice[0])}' twice: one of its metrics would go "
                             "unchecked", path=str(baseline))
    for line, cells in rows:
        if len(cells) != len(header):
            raise RealBenchError(f"row {line} has {len(cells)} cells, the header {len(header)}: the row is "
                                 "truncated or damaged", path=str(baseline))
    if len(rows) != len(expected):  # the two readers disagree (a quoted line break, say): number by position
        return expected.set_axis(range(2, len(expected) + 2)), [list(map(str, r)) for r in expected.to_numpy()]
    return expected.set_axis([line for line, _ in rows]), [cells for _, cells in rows]


def _measured_cells(expected: pd.DataFrame, cells: list[list[str]], key: str, metrics: list[str],
                    baseline: str | Path) -> None:
    """A measured row names its run and split, counts its scenes, and leaves a metric cell empty
    only for a metric its run never asked for; no two rows describe the same run and split."""
    columns = list(expected.columns)
    seen: dict[tuple[str, str], int] = {}
    for line, row in zip(expected.index, cells):
        values = dict(zip(columns, row))
        for column in (key, "split", "scenes"):
            if not values.get(column, "").strip():
                raise RealBenchError(f"row {line} has no '{column}' value", path=str(baseline))
        try:
            scored = set(parse_protocols(values.get(PROTOCOLS)))
        except RealBenchError as exc:
            raise RealBenchError(f"row {line}: {exc}", path=str(baseline)) from None
        unavailable = set(text_list(values.get(UNAVAILABLE, "")) or [])  # asked for, not computed: empty
        for name in metrics:
            if not values.get(name, "").strip() and name not in unavailable and (
                    name in scored or UNAVAILABLE not in values):
                raise RealBenchError(f"row {line}: the '{printable(name)}' cell is empty, but the row's run scored "
                                     f"'{printable(name)}' (an empty cell is only for a metric it never asked for "
                                     "or could not compute)",
                                     path=str(baseline))
        scenes = float(pd.to_numeric(expected.at[line, "scenes"]))
        if scenes < 0 or not scenes.is_integer():
            raise RealBenchError(f"row {line}: 'scenes' must be a whole number, got {brief(values['scenes'])}",
                                 path=str(baseline))
        ident = (values[key], values["split"])
        if ident in seen:
            raise RealBenchError(f"rows {seen[ident]} and {line} both hold run '{printable(ident[0])}' split "
                                 f"'{printable(ident[1])}'; a baseline holds one row per run and split",
                                 path=str(baseline))
        seen[ident] = line


def _baseline(baseline: str | Path) -> tuple[pd.DataFrame, str, list[str]]:
    expected = read_table(baseline)
    key = _key_column(expected)
    try:
        metrics = metric_columns(expected)
    except RealBenchError as exc:  # a protocols cell that is no list of versions
        raise RealBenchError(str(exc), path=str(baseline)) from None
    missing_columns = {key, "split", "scenes"} - set(expected.columns)
    if missing_columns or not metrics:
        raise RealBenchError("not a realbench leaderboard table: it lacks "
                             f"{', '.join(sorted(missing_columns)) or 'metric'} "
                             "columns (write one with `realbench leaderboard RUN --out FILE.csv`)", path=str(baseline))
    expected, cells = _numbered(expected, baseline)
    _numeric(expected, cells, [*metrics, "scenes"], baseline)
    source = expected["source"] if "source" in expected else pd.Series("measured", index=expected.index)
    measured = source.fillna("measured").astype(str).str.startswith("measured")
    _measured_cells(expected[measured], [c for c, m in zip(cells, measured) if m], key, metrics, baseline)
    return expected[measured], key, metrics


def check(runs: Sequence[Any] | Any, baseline: str | Path, rtol: dict[str, float] | None = None,
          atol: dict[str, float] | None = None) -> CheckResult:
    """Compare runs' leaderboard rows against a committed baseline table, metric by metric.

    Default tolerances come from each metric's metadata: ``default_atol`` when both the run and
    the baseline computed on the CPU (bit-reproducible), the looser ``gpu_atol`` when either used an
    accelerator (CUDA or MPS); ``atol``/``rtol`` override them per metric."""
    if isinstance(runs, (str, Path)) or hasattr(runs, "run_dir"):
        runs = [runs]
    rtol, atol = check_tolerances(dict(rtol or {}), "--rtol"), check_tolerances(dict(atol or {}), "--atol")
    expected, key, metrics = _baseline(baseline)
    for name in [*rtol, *atol]:
        if name not in metrics:
            raise RealBenchError(f"tolerance given for '{printable(name)}', which the baseline does not have "
                                 f"(it has: {', '.join(metrics)})", path=str(baseline))
    views = read_runs(runs)
    actual = leaderboard(views, metrics)
    actual_rows = {(r[key], r["split"]): r for r in actual.to_dict("records")}
    _require_described(expected, actual, key, baseline)
    changes = _protocol_changes(expected, actual_rows, key, metrics)
    if changes:
        return CheckResult(False, pd.DataFrame(), changes)
    infos = {m: metric_info(m, views) for m in metrics}
    on_accelerator = {str(r.get("device")) for r in actual_rows.values()} | set(
        expected["device"].astype(str) if "device" in expected else [])
    on_accelerator -= {"cpu", "nan", ""}
    diffs = []
    given = set(actual[key].astype(str))
    not_checked = sorted({str(r) for r in expected[key]} - given)
    for row in expected.to_dict("records"):
        if str(row[key]) not in given:  # another run's rows: not what was asked about
            continue
        got = actual_rows.get((row[key], row["split"]))
        if got is None:
            diffs.append({"run": row[key], "split": row["split"], "value": "scenes", "baseline": row["scenes"],
                          "run value": "missing", "diff": "", "tolerance": "", "ok": False})
            continue
        diffs += _row_diffs(row, got, key, metrics, infos, bool(on_accelerator), rtol, atol)
    frame = pd.DataFrame(diffs)
    return CheckResult(bool(frame["ok"].all()) if not frame.empty else False, frame, not_checked=not_checked)


def _require_described(expected: pd.DataFrame, actual: pd.DataFrame, key: str, baseline: str | Path) -> None:
    """A baseline that holds none of the runs' labels describes other runs: say that."""
    have, want = set(expected[key].astype(str)), set(actual[key].astype(str))
    if not have & want:
        raise RealBenchError(f"baseline has no run labelled {', '.join(repr(printable(w)) for w in sorted(want))} "
                             f"(it has: {', '.join(printable(h) for h in sorted(have))}); check a run against its "
                             "own baseline, or give the run that label (--label)", path=str(baseline))


def _row_diffs(row: dict, got: dict, key: str, metrics: list[str], infos: dict, on_accelerator: bool,
               rtol: dict[str, float], atol: dict[str, float]) -> list[dict]:
    out = []
    if int(got["scenes"]) != int(row["scenes"]):
        out.append({"run": row[key], "split": row["split"], "value": "scenes", "baseline": row["scenes"],
                    "run value": got["scenes"], "diff": "", "tolerance": "exact", "ok": False})
    for name in metrics:
        default = infos[name].get("gpu_atol", 5e-3) if on_accelerator else infos[name].get("default_atol", 1e-4)
        a, r = atol.get(name, default), rtol.get(name, 0.0)
        base_value, run_value = float(row[name]), float(got[name])
        ok = _close(run_value, base_value, r, a)
        diff = run_value - base_value if np.isfinite(run_value) and np.isfinite(base_value) else float("nan")
        out.append({"run": row[key], "split": row["split"], "value": name,
                    "baseline": format_value(name, base_value), "run value": format_value(name, run_value),
                    "diff": f"{diff:+.6g}", "tolerance": f"atol {a:g} rtol {r:g}", "ok": ok})
    return out


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
