"""Rendering tables for people and files: terminal text, Markdown, CSV, LaTeX, JSON.

A table's metric columns are plain metric names (``psnr``), so programs read them as they are
(``pd.read_csv(f)["psnr"]``); which columns are metrics and which way each is better travel with
the frame in ``table.attrs["metrics"]`` (name -> higher is better). Direction arrows (``psnr ↑``)
and bold are for people: the terminal, Markdown and LaTeX renderings add them. A missing metric
value prints ``unavailable`` when its run asked for the metric but could not compute it (listed in
the row's ``unavailable`` column) and ``—`` when the run never asked for it (empty in CSV). Every
text a table holds may come from data, so each format escapes it completely: control characters
in the terminal, ``|`` and newlines in Markdown, LaTeX's specials, and spreadsheet formulas in CSV.
"""
from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from realbench.core.errors import RealBenchError, describe
from realbench.core.fields import text_list
from realbench.core.jsonio import dumps
from realbench.core.paths import printable
from realbench.core.words import count  # noqa: F401  (re-exported: summaries count with it)

UNAVAILABLE = "unavailable"
NOT_REQUESTED = "—"
FORMATS = ("csv", "md", "latex", "json")
SUFFIXES = {".csv": "csv", ".md": "md", ".tex": "latex", ".json": "json"}
ARROWS = ("↑", "↓")
COUNT_COLUMNS = ("scenes", "samples")


def metric_directions(table: pd.DataFrame) -> dict[str, bool]:
    """Metric column -> higher is better, as the table carries it."""
    return dict(table.attrs.get("metrics", {}))


def arrow(higher_is_better: bool) -> str:
    return ARROWS[0] if higher_is_better else ARROWS[1]


def with_arrow(table: pd.DataFrame, name: str) -> str:
    directions = metric_directions(table)
    return f"{name} {arrow(directions[name])}" if name in directions else str(name)


def _unavailable_in(row: dict) -> set[str]:
    value = row.get(UNAVAILABLE)
    return set(text_list(value) or []) if isinstance(value, str) else set()


def format_number(column: str, value: float, metric: bool) -> str:
    """Paper-style rounding: PSNR to 2 decimals, other metrics to 3, p-values to 3 digits."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if str(column).startswith("p ("):
        return f"{value:.3g}"
    if not metric and column in COUNT_COLUMNS and float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}" if str(column).split("_")[0].split(" ")[0] == "psnr" else f"{value:.3f}"


def format_value(column: str, value: Any, missing: str = UNAVAILABLE, metric: bool = True) -> str:
    """A cell as people read it; ``missing`` for a missing metric value."""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return missing if metric else ""
        return format_number(column, float(value), metric)
    if value is None:
        return missing if metric else ""
    return str(value)


def rendered(table: pd.DataFrame, machine: bool = False) -> list[list[str]]:
    """Every cell as text; a missing metric cell says whether its run could not compute it or
    never asked for it. ``machine``: full precision and an empty cell for 'never asked for'."""
    directions = metric_directions(table)
    out = []
    for row in table.to_dict("records"):
        unavailable = _unavailable_in(row)
        cells = []
        for column, value in row.items():
            metric = column in directions
            missing = UNAVAILABLE if (not metric or column in unavailable or UNAVAILABLE not in row) else NOT_REQUESTED
            if machine and metric:
                missing = ""  # a number column holds numbers; why a value is missing is in the unavailable column
            if machine and isinstance(value, (float, np.floating)) and math.isfinite(value):
                cells.append(repr(float(value)))  # the shortest text that reads back as the same number
            else:
                cells.append(format_value(column, value, missing, metric))
        out.append(cells)
    return out


def to_text(table: pd.DataFrame) -> str:
    """Aligned plain-text rendering for the terminal (control characters escaped)."""
    header = [printable(with_arrow(table, c)) for c in table.columns]
    cells = [header] + [[printable(c) for c in row] for row in rendered(table)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in cells]
    return "\n".join(line.rstrip() for line in lines)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|])")


def _md_cell(text: str) -> str:
    """Text shown literally in a Markdown table: control characters escaped, HTML escaped, and
    Markdown's own marks (emphasis, code, links, the cell bar) backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(printable(text), quote=False))


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table, values rounded the way the paper prints them."""
    header = "| " + " | ".join(_md_cell(with_arrow(table, c)) for c in table.columns) + " |"
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    rule = "|" + "|".join("---:" if n else "---" for n in numeric) + "|"
    body = ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rendered(table)]
    return "\n".join([header, rule, *body]) + "\n"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str, numeric: bool) -> str:
    """A CSV cell a spreadsheet never runs as a formula (OWASP: text starting with = + - @ tab CR
    gets a leading apostrophe); numbers stay numbers."""
    if numeric:
        return text
    text = printable(text)  # no escape sequence reaches a terminal that shows the file
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(table: pd.DataFrame) -> str:
    import csv
    import io

    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(str(c), False) for c in table.columns])
    writer.writerows([csv_cell(cell, n) for cell, n in zip(row, numeric)] for row in rendered(table, machine=True))
    return buffer.getvalue()


def to_json(table: pd.DataFrame) -> str:
    """Strict JSON: one object per row, plain column names, null for a missing number."""
    rows = [{str(k): v for k, v in row.items()} for row in table.to_dict("records")]
    return dumps(rows, indent=2) + "\n"


def table_format(out: str | Path | None, fmt: str | None) -> str:
    """The format ``out``'s extension names; a ``fmt`` that contradicts it, or an extension that
    names no format, is refused. Without ``out``: ``fmt``, else CSV."""
    if fmt is not None and fmt not in FORMATS:
        raise RealBenchError(f"--format {fmt}: one of {', '.join(FORMATS)}")
    if out is None:
        return fmt or "csv"
    suffix = Path(out).suffix.lower()
    named = SUFFIXES.get(suffix)
    if named is None:
        raise RealBenchError(f"--out: the extension '{suffix or '(none)'}' names no table format; use "
                             f"{', '.join(SUFFIXES)}", path=str(out))
    if fmt is not None and fmt != named:
        raise RealBenchError(f"--format {fmt} contradicts --out's extension '{suffix}' ({named})", path=str(out))
    return named


def read_table(path: str | Path) -> pd.DataFrame:
    """A leaderboard CSV as a frame with plain metric names (older files' ``psnr ↑`` columns are
    read as ``psnr``, their direction kept in ``attrs``)."""
    path = Path(path)
    if not path.is_file():
        raise RealBenchError("baseline table is missing", path=str(path))
    if path.stat().st_size > 64 * 2**20:
        raise RealBenchError("baseline table is larger than 64 MiB: not a leaderboard", path=str(path))
    try:
        frame = pd.read_csv(path, na_values=[UNAVAILABLE, ""], keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RealBenchError(f"cannot parse table as CSV ({describe(exc)})", path=str(path)) from None
    directions = {}
    renamed = {}
    for column in frame.columns:
        parts = str(column).split(" ")
        if len(parts) == 2 and parts[1] in ARROWS:
            renamed[column] = parts[0]
            directions[parts[0]] = parts[1] == ARROWS[0]
    frame = frame.rename(columns=renamed)
    for column in frame.columns:  # undo csv_cell's formula guard: "'=x" was written for the text "=x"
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(_unguarded)
    frame.attrs["metrics"] = directions
    return frame


def _unguarded(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value
