"""A leaderboard as a paper-ready LaTeX table (RealFill's Table 1 layout): a row per run (and
split), the metrics with their direction arrows, the best measured value of each column in bold,
reported rows marked with a dagger, and every run's identity in a note under the table. The output
compiles inside any document that loads ``booktabs``; every text from data is escaped."""
from __future__ import annotations

import math

import pandas as pd

from .formatting import UNAVAILABLE, format_number, metric_directions

PRETTY = {"psnr": "PSNR", "ssim": "SSIM", "lpips": "LPIPS", "dreamsim": "DreamSim", "dino": "DINO", "clip": "CLIP"}
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
            ">": r"\textgreater{}", "|": r"\textbar{}", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "—": "--"}


def escape(text: object) -> str:
    """``text`` as LaTeX prints it literally: control characters dropped, Latin-1 letters kept for
    inputenc, and any other character (which pdflatex may not know, e.g. a right-to-left override)
    written as its code point, so the table always compiles."""
    out = []
    for char in str(text):
        code = ord(char)
        if char in _SPECIAL:
            out.append(_SPECIAL[char])
        elif code < 32 or 0x7F <= code < 0xA0 or code == 0xAD:
            out.append(" ")
        elif code > 0xFF:
            out.append(f"\\texttt{{[U+{code:04X}]}}")
        else:
            out.append(char)
    return "".join(out)


def _header(name: str, higher: bool) -> str:
    return escape(PRETTY.get(name, name)) + " " + (r"$\uparrow$" if higher else r"$\downarrow$")


def _best(table: pd.DataFrame, metrics: list[str], directions: dict[str, bool]) -> set[tuple[int, str]]:
    """(row position, metric) of the best measured value per column and split."""
    measured = table["source"].astype(str).str.startswith("measured") if "source" in table else \
        pd.Series(True, index=table.index)
    groups = table["split"] if "split" in table else pd.Series("all", index=table.index)
    best = set()
    for metric in metrics:
        for _, part in table[measured].groupby(groups[measured], sort=False):
            values = pd.to_numeric(part[metric], errors="coerce")
            values = values[values.map(lambda v: math.isfinite(v) if pd.notna(v) else False)]
            if values.empty:
                continue
            target = values.max() if directions[metric] else values.min()
            best |= {(table.index.get_loc(i), metric) for i in values.index[values == target]}
    return best


def _cell(table: pd.DataFrame, position: int, metric: str, bold: bool) -> str:
    value = table.iloc[position][metric]
    unavailable = str(table.iloc[position].get(UNAVAILABLE, "") or "")
    if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return "n/a" if metric in unavailable.split(",") else "--"
    text = format_number(metric, float(value), True)
    return f"\\textbf{{{text}}}" if bold else text


def _identity(table: pd.DataFrame) -> list[str]:
    lines = []
    seen = set()
    for row in table.to_dict("records"):
        if not str(row.get("source", "measured")).startswith("measured") or row.get("run") in seen:
            continue
        seen.add(row.get("run"))
        parts = [f"method {row.get('method', '')}", f"config {row.get('config_hash', '')}",
                 f"data {row.get('data', '')}", f"metric protocols {row.get('protocols', '')}",
                 f"device {row.get('device', '')}"]
        lines.append(escape(f"{row.get('run', '')}: " + ", ".join(parts)))
    if any(not str(s).startswith("measured") for s in table.get("source", [])):
        lines.append(r"$^\dagger$\,reported in the paper named, not measured here.")
    lines += [escape(note) for note in table.attrs.get("notes", [])]
    return lines


def to_latex(table: pd.DataFrame) -> str:
    directions = metric_directions(table)
    metrics = [c for c in table.columns if c in directions]
    splits = "split" in table and table["split"].nunique() > 1
    extra = ["filter"] if "filter" in table and table["filter"].notna().any() else []
    best = _best(table, metrics, directions)
    columns = ["Run", *(["Split"] if splits else []), *(c.title() for c in extra)]
    lines = ["\\begin{table}[t]", "\\centering",
             f"\\begin{{tabular}}{{{'l' * len(columns)}{'r' * len(metrics)}}}", "\\toprule",
             " & ".join([*columns, *(_header(m, directions[m]) for m in metrics)]) + " \\\\", "\\midrule"]
    for position, row in enumerate(table.to_dict("records")):
        reported = not str(row.get("source", "measured")).startswith("measured")
        label = escape(row.get("run", "")) + ("$^\\dagger$" if reported else "")
        cells = [label, *([escape(row.get("split", ""))] if splits else []), *(escape(row.get(c, "")) for c in extra)]
        cells += [_cell(table, position, m, (position, m) in best) for m in metrics]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\par\\smallskip",
              "\\begin{minipage}{\\linewidth}\\raggedright\\footnotesize",
              "Mean over each scene's samples, then over scenes; best measured value per column in bold.\\\\",
              *(line + "\\\\" for line in _identity(table)), "\\end{minipage}", "\\end{table}"]
    return "\n".join(lines) + "\n"
