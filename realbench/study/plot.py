"""The bar plot of Table 3: per method, one bar per criterion with its interval; reported rows
hatched. Labels are drawn literally (no mathtext, so ``$`` stays a dollar sign) and as tick
labels, so a name starting with ``_`` is shown like any other (legends would drop it)."""
from __future__ import annotations

import io
import math
from typing import Any

from .analyze import Analysis

PLOT_SOFTWARE = "realbench study analyze"  # in the PNG's text chunk: how a later run knows the file is its own


def bar_plot(analysis: Analysis) -> bytes:
    """The plot as PNG bytes (Agg, without pyplot: no global backend is touched)."""
    buffer = io.BytesIO()
    figure(analysis).savefig(buffer, format="png", metadata={"Software": PLOT_SOFTWARE,
                                                             "Title": f"study {analysis.identity['study_id']}"})
    return buffer.getvalue()


def figure(analysis: Analysis) -> Any:
    import matplotlib
    from matplotlib.figure import Figure

    table = analysis.table
    criteria = list(dict.fromkeys(table["criterion"]))
    groups = list(dict.fromkeys(zip(table["display"], table["source"])))
    width = 0.8 / max(1, len(criteria))
    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
        fig = Figure(figsize=(max(5.0, 1.2 * len(groups) + 2), 3.8), dpi=110)
        ax = fig.subplots()
        for c, criterion in enumerate(criteria):
            for g, (display, source) in enumerate(groups):
                match = table[(table["display"] == display) & (table["source"] == source) &
                              (table["criterion"] == criterion)]
                if match.empty or math.isnan(float(match["share"].iloc[0])):
                    continue
                row = match.iloc[0]
                share = 100 * float(row["share"])
                err = None
                if not math.isnan(float(row["ci_low"])):
                    err = [[share - 100 * float(row["ci_low"])], [100 * float(row["ci_high"]) - share]]
                ax.bar(g + (c - (len(criteria) - 1) / 2) * width, share, width, yerr=err, capsize=3,
                       color=f"C{c}", hatch="//" if source != "measured" else None, edgecolor="black", linewidth=0.5)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([display for display, _ in groups], rotation=20, ha="right")
        ax.set_ylabel("share of votes (%)")
        ax.set_ylim(0, 100)
        for c, criterion in enumerate(criteria):  # a legend of text, not of artists: no label is dropped
            ax.text(0.01 + 0.3 * c, 0.97, f"\u25a0 {criterion}", color=f"C{c}", transform=ax.transAxes, va="top")
        ax.set_title(f"User study {analysis.identity['study_id']} (95 % intervals; hatched: reported)", fontsize=9)
        fig.tight_layout()
    return fig
