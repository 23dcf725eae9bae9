"""An analysis as files people and programs open: CSV (plain column names, one row per criterion
and method, identity on every row), strict JSON (everything), Markdown, LaTeX (booktabs), the
terminal's aligned text, and the bar plot beside a written table."""
from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from realbench.core.errors import RealBenchError
from realbench.core.files import atomic_write_bytes
from realbench.core.paths import printable
from realbench.summarise.formatting import FORMATS, SUFFIXES, table_format  # noqa: F401  (study's formats are the tables')
from realbench.summarise.latex import escape as latex_escape

from .analyze import Analysis
from .plot import PLOT_SOFTWARE, bar_plot

CSV_COLUMNS = ["study", "seed", "bootstrap_seed", "data",
               "criterion", "question", "method", "display", "votes", "total", "share", "ci_low", "ci_high",
               "participants", "scenes", "runs", "question_text", "source"]


def percent(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * float(value):.1f} %"


def cell(row: pd.Series) -> str:
    """``63.7 % [58.1, 69.0] (n=2552)``, or the reported share alone."""
    text = percent(row["share"])
    if not text:
        return "no votes"
    if not math.isnan(float(row["ci_low"])):
        text += f" [{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]"
    return text + f" (n={int(row['total'])})"


def wide(analysis: Analysis) -> pd.DataFrame:
    """Table 3's layout: a row per method, a column per criterion."""
    table = analysis.table
    criteria = list(dict.fromkeys(table["criterion"]))
    rows = []
    for (display, source), part in table.groupby(["display", "source"], sort=False):
        row = {"method": display}
        for criterion in criteria:
            match = part[part["criterion"] == criterion]
            row[criterion] = cell(match.iloc[0]) if len(match) else ""
        row["source"] = source
        rows.append(row)
    return pd.DataFrame(rows, columns=["method", *criteria, "source"])


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    if frame is None:
        return None
    return [{str(k): _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def to_json(analysis: Analysis) -> str:
    document = {"identity": analysis.identity, "rules": analysis.rules, "table3": _records(analysis.table),
                "pairwise": _records(analysis.pairwise), "agreement": _records(analysis.agreement),
                "participants": _records(analysis.participants), "per_scene": _records(analysis.per_scene),
                "notes": analysis.notes}
    return json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def to_csv(analysis: Analysis, frame: pd.DataFrame | None = None) -> str:
    frame = analysis.table[CSV_COLUMNS] if frame is None else frame
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n", float_format="%.6g")
    return buffer.getvalue()


def md(value: Any) -> str:
    """Text as Markdown shows it literally: HTML escaped, control characters escaped, one line."""
    if isinstance(value, float):
        value = "" if math.isnan(value) else f"{value:.4g}"
    return html.escape(printable("" if value is None else value), quote=False).replace("\n", " ")


def _md_table(frame: pd.DataFrame) -> list[str]:
    def esc(value: Any) -> str:
        return md(value).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(c) for c in frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in frame.astype(object).itertuples(index=False)]
    return lines


def to_markdown(analysis: Analysis) -> str:
    identity = analysis.identity
    methods = "; ".join(f"{md(m['display'])} = " + ", ".join(f"run {md(r['label'])} (config {md(r['config_hash'])})"
                                                         for r in m["runs"]) for m in identity["methods"])
    data = "; ".join(f"{md(d['name'])}@{md(d['checksum'])} ({d['scenes']} scenes)" for d in identity["data"])
    lines = [f"# User study {md(identity['study_id'])} ({md(identity['kind'])})", "",
             f"Seed {identity['seed']}; {identity['scenes']} scenes; methods: {methods}.", f"Data: {data}.", "",
             "## Table 3: vote shares", "", *_md_table(wide(analysis)), ""]
    if analysis.pairwise is not None:
        pairwise = analysis.pairwise.assign(share=analysis.pairwise["share"].map(percent))
        lines += ["## Against the ground truth", "",
                  *_md_table(pairwise[["criterion", "display", "votes", "total", "share", "p_value"]]), ""]
    lines += ["## Agreement", "", *_md_table(analysis.agreement[["criterion", "krippendorff_alpha", "participants",
                                                                   "scenes", "votes", "note"]]), ""]
    excluded = analysis.participants[analysis.participants["excluded"]]
    lines += ["## Participants", "", f"{len(analysis.participants)} voted, {len(excluded)} excluded.", ""]
    if len(excluded):
        lines += [*_md_table(excluded[["slot", "reason"]]), ""]
    lines += ["## Questions", ""] + [f"- {md(q['criterion'])} ({md(q['id'])}): {md(q['prompt'])} {md(q['hint'])}"
                                     .rstrip() for q in identity["questions"]]
    lines += ["", "## Rules", ""] + [f"- {name}: {md(text)}" for name, text in analysis.rules.items()]
    lines += [f"- note: {md(note)}" for note in analysis.notes]
    return "\n".join(lines) + "\n"


def _latex_identity(analysis: Analysis) -> list[str]:
    """The study's identity under the table: what produced every number in it."""
    identity = analysis.identity
    methods = "; ".join(f"{m['display']} = " + ", ".join(f"run {r['label']} (config {r['config_hash']})"
                                                       for r in m["runs"]) for m in identity["methods"])
    data = "; ".join(f"{d['name']}@{d['checksum']} ({d['scenes']} scenes)" for d in identity["data"])
    lines = [f"User study {identity['study_id']} ({identity['kind']}), seed {identity['seed']}, "
             f"{identity['scenes']} scenes. Methods: {methods}.", f"Data: {data}.",
             *(f"{q['criterion']}: {q['prompt']}" for q in identity["questions"]),
             f"Interval: {analysis.rules['interval']}.", f"Exclusion: {analysis.rules['exclusion']}."]
    out = [latex_escape(line) for line in lines]
    if (~analysis.table["source"].astype(str).str.startswith("measured")).any():
        out.append("Rows marked reported: are the paper's, not measured here.")
    return out


def to_latex(analysis: Analysis) -> str:
    """Table 3 as a booktabs table (``\\usepackage{booktabs}``), the study's identity beneath it."""
    frame = wide(analysis)
    lines = ["\\begin{table}[t]", "\\centering", "\\begin{tabular}{" + "l" * len(frame.columns) + "}",
             "\\toprule", " & ".join(latex_escape(c) for c in frame.columns) + " \\\\", "\\midrule"]
    rows = frame.astype(object).itertuples(index=False)
    lines += [" & ".join(latex_escape(v) for v in row) + " \\\\" for row in rows]
    lines += ["\\bottomrule", "\\end{tabular}", "\\par\\smallskip",
              "\\begin{minipage}{\\linewidth}\\raggedright\\footnotesize",
              *(line + "\\\\" for line in _latex_identity(analysis)), "\\end{minipage}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def to_text(analysis: Analysis) -> str:
    frame = wide(analysis)
    cells = [list(map(str, frame.columns))] + [[printable(v) for v in row] for row in frame.astype(object).values]
    widths = [max(len(r[i]) for r in cells) for i in range(len(frame.columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    if analysis.pairwise is not None:
        for row in analysis.pairwise.itertuples():
            lines.append(f"{row.criterion}: {printable(row.display)} {percent(row.share)} of {row.total} votes against "
                         f"the ground truth (binomial test p = {row.p_value:.3g})")
    excluded = int(analysis.participants["excluded"].sum())
    lines.append(f"{len(analysis.participants)} participants voted, {excluded} excluded; interval: "
                 f"{analysis.rules['interval']}")
    return "\n".join(lines) + "\n"


RENDERERS = {"csv": to_csv, "md": to_markdown, "latex": to_latex, "json": to_json}


def _written_by_us(path: Path, data: bytes) -> bool:
    """Whether an existing companion file (the plot, the per-scene CSV) is one this command wrote:
    a PNG carrying our text chunk, or a CSV that starts with the header line we write."""
    try:
        if path.suffix == ".png":
            from PIL import Image

            with Image.open(path) as image:
                return image.format == "PNG" and image.info.get("Software") == PLOT_SOFTWARE
        with path.open("rb") as handle:
            first = handle.readline(4096)
        return first == data.split(b"\n", 1)[0] + b"\n"
    except (OSError, ValueError, SyntaxError):
        return False


def _check_targets(files: dict[Path, bytes], out: Path) -> None:
    """The named ``out`` may be replaced; a companion file only when this command made it."""
    for path, data in files.items():
        if path.exists() and not path.is_file():
            raise RealBenchError("not a file", path=str(path))
        if path != out and path.exists() and not _written_by_us(path, data):
            raise RealBenchError(f"exists and was not written by `realbench study analyze` (it would be replaced by "
                                 f"the {'bar plot' if path.suffix == '.png' else 'per-scene table'} of --out "
                                 f"{out.name}); move it or choose another --out", path=str(path))


def write_analysis(analysis: Analysis, out: str | Path, fmt: str | None = None, plot: bool = True) -> list[Path]:
    """``out`` in its format; a CSV also gets ``<stem>-per-scene.csv``; ``<stem>.png`` the bar plot."""
    out = Path(out)
    fmt = table_format(out, fmt)
    files = {out: RENDERERS[fmt](analysis).encode("utf-8")}
    if fmt == "csv":
        files[out.with_name(f"{out.stem}-per-scene.csv")] = to_csv(analysis, analysis.per_scene).encode("utf-8")
    if plot:
        files[out.with_suffix(".png")] = bar_plot(analysis)
    _check_targets(files, out)
    try:
        for path, data in files.items():
            atomic_write_bytes(path, data)
    except OSError as exc:
        raise RealBenchError(f"cannot write the analysis ({exc.strerror or exc})", path=str(out)) from None
    return list(files)
