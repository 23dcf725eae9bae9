"""Rendering tables for people and files: terminal text, Markdown, CSV, LaTeX, JSON.

Metric columns carry their direction arrow (``psnr ↑``). A missing metric value prints
``unavailable`` when its run asked for the metric but could not compute it (weights missing,
listed in the row's ``unavailable`` column) and ``—`` when the run never asked for it, so a
blank is never mistaken for either. Values are rounded the way the paper prints them.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import RealBenchError
from .imageio import FILE_MODE
from .paths import printable

UNAVAILABLE = "unavailable"
NOT_REQUESTED = "—"
FORMATS = ("csv", "md", "latex", "json")


def is_metric_column(name: str) -> bool:
    parts = str(name).split(" ")
    return len(parts) == 2 and parts[1] in ("↑", "↓")


def metric_of(column_name: str) -> str:
    return str(column_name).split(" ")[0]


def _unavailable_in(row: dict) -> set[str]:
    value = row.get(UNAVAILABLE)
    return {v.strip() for v in value.split(",") if v.strip()} if isinstance(value, str) else set()


def format_value(column_name: str, value: Any, missing: str = UNAVAILABLE) -> str:
    """Paper-style rounding for metric columns; ``missing`` for a NaN metric value; plain elsewhere."""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return missing if is_metric_column(column_name) else ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if str(column_name).startswith("p ("):
            return f"{value:.3g}"
        if not is_metric_column(column_name) and column_name in ("scenes", "samples") and value.is_integer():
            return str(int(value))
        return f"{value:.2f}" if metric_of(column_name) == "psnr" else f"{value:.3f}"
    if value is None:
        return ""
    return str(value)


def rendered(table: pd.DataFrame, csv: bool = False) -> list[list[str]]:
    """Every cell as text; a NaN metric cell says whether its run could not compute it or never
    asked for it."""
    out = []
    for row in table.to_dict("records"):
        unavailable = _unavailable_in(row)
        cells = []
        for column, value in row.items():
            if is_metric_column(column) and isinstance(value, float) and math.isnan(value) and UNAVAILABLE in row:
                missing = UNAVAILABLE if metric_of(column) in unavailable else ("" if csv else NOT_REQUESTED)
            else:
                missing = UNAVAILABLE
            if csv and isinstance(value, (float, np.floating)) and not math.isnan(value) and not math.isinf(value):
                cells.append(f"{value:.10g}")
            else:
                cells.append(format_value(column, value, missing))
        out.append(cells)
    return out


def to_text(table: pd.DataFrame) -> str:
    """Aligned plain-text rendering for the terminal (control characters escaped)."""
    cells = [[printable(c) for c in row] for row in [list(map(str, table.columns))] + rendered(table)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table, values rounded the way the paper prints them."""
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(table[c]) else "---" for c in table.columns) + "|"
    body = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rendered(table)]
    return "\n".join([header, rule, *body]) + "\n"


def to_csv(table: pd.DataFrame) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(rendered(table, csv=True))
    return buffer.getvalue()


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs table body for a paper (``\\usepackage{booktabs}``)."""
    def escape(text: str) -> str:
        text = text.replace("\\", "\0")
        for char in "&%$#_{}":
            text = text.replace(char, "\\" + char)
        text = text.replace("\0", "\\textbackslash{}")
        return text.replace("↑", "$\\uparrow$").replace("↓", "$\\downarrow$").replace("—", "--")

    align = "".join("r" if pd.api.types.is_numeric_dtype(table[c]) else "l" for c in table.columns)
    lines = [f"\\begin{{tabular}}{{{align}}}", "\\toprule", " & ".join(escape(str(c)) for c in table.columns) + " \\\\",
             "\\midrule"]
    lines += [" & ".join(escape(cell) for cell in row) + " \\\\" for row in rendered(table)]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def to_json(table: pd.DataFrame) -> str:
    rows = []
    for row in table.to_dict("records"):
        rows.append({str(k): (None if isinstance(v, float) and not math.isfinite(v) else
                              (v.item() if hasattr(v, "item") else v)) for k, v in row.items()})
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"csv": to_csv, "md": to_markdown, "latex": to_latex, "json": to_json}
SUFFIXES = {".csv": "csv", ".md": "md", ".tex": "latex", ".json": "json"}


def table_format(out: str | Path | None, fmt: str | None) -> str:
    """The format asked for, else the one the file name says, else CSV."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise RealBenchError(f"--format {fmt}: one of {', '.join(FORMATS)}")
        return fmt
    return SUFFIXES.get(Path(out).suffix.lower(), "csv") if out is not None else "csv"


def write_table(table: pd.DataFrame, out: str | Path, fmt: str | None = None) -> list[Path]:
    """Write ``out`` in ``fmt``; a CSV also gets its Markdown twin (``.md`` beside it). Both are
    written completely before either replaces an old file, so a kill leaves the old pair or the
    new pair, never a new table beside a stale twin (bar the instant between two renames)."""
    import os
    import tempfile

    out = Path(out)
    fmt = table_format(out, fmt)
    files = {out: RENDERERS[fmt](table)}
    if fmt == "csv":
        files[out.with_suffix(".md")] = to_markdown(table)
    staged = []
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            if path.exists() and not path.is_file():
                raise RealBenchError("not a file", path=str(path))
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append(tmp)
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode())
        for tmp, path in zip(staged, files):
            os.replace(tmp, path)
    except OSError as exc:
        raise RealBenchError(f"cannot write the table ({exc.strerror or exc})", path=str(out)) from None
    finally:
        for tmp in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return list(files)


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise RealBenchError("baseline table is missing", path=str(path))
    try:
        return pd.read_csv(path, na_values=[UNAVAILABLE, ""], keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RealBenchError(f"cannot parse table as CSV ({str(exc).splitlines()[0][:200]})", path=str(path)) from None
