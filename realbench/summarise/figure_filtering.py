"""RealFill's Table 2 as a line plot: each metric after dropping the lowest-ranked 0, 25, 50 and
75 % of every scene's samples (ranked by the recorded correspondences), one line per run. The
numbers are the leaderboard's own (``leaderboard(views, filter_rates=RATES)``), never recomputed
here, so the plot and ``realbench leaderboard --filter-rates`` cannot disagree."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from realbench.core.paths import printable

from .figure_common import (
    add_footer,
    closed_on_error,
    correspondence_counts,
    metric_label,
    provenance,
    pyplot,
)
from .leaderboards import leaderboard
from .runview import RunView

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

RATES = (0, 25, 50, 75)  # percent of each scene's lowest-ranked samples dropped (Table 2)


def filtering_unsupported(view: RunView) -> str | None:
    """Why a run cannot be filtered by rank, or None."""
    counts = correspondence_counts(view.records)
    if counts.empty or counts.isna().all():
        return "the run recorded no correspondence scores (made with --no-select?)"
    if counts.isna().any():
        return "some samples have no correspondence score; rerun `realbench evaluate` on the run to score them"
    return None


def filter_rate_table(views: Sequence[RunView], rates: Sequence[float] = RATES) -> pd.DataFrame:
    """The leaderboard's Table 2 rows (``filter`` column ``0%``, ``25%``, ...), with ``rate`` as a number."""
    table = leaderboard(list(views), filter_rates=list(rates), allow_mixed_data=True)
    return table.assign(rate=table["filter"].str.rstrip("%").astype(float))


def plotted_metrics(table: pd.DataFrame) -> list[str]:
    return [m for m in table.attrs.get("metrics", {}) if m in table and table[m].notna().any()]


def filter_rate_figure(views: Sequence[RunView], rates: Sequence[float] = RATES) -> MplFigure:
    """Each metric over the filter rates, a line per run (the caller saves and closes it)."""
    table = filter_rate_table(views, rates)
    metrics = plotted_metrics(table)
    with pyplot() as plt:
        fig, axes = plt.subplots(1, max(1, len(metrics)), squeeze=False, figsize=(3.6 * max(1, len(metrics)), 3.4))
        with closed_on_error(fig):
            for ax, metric in zip(axes.flat, metrics, strict=False):
                _panel(ax, table, views, metric, rates)
            fig.suptitle("Table 2 · seed selection: the lowest-ranked samples of each scene dropped (mean over "
                         "scenes of the kept samples' means)", fontsize=9)
            add_footer(fig, provenance(views), "ranked by reference correspondences; ties keep the lower sample index")
    return fig


def _panel(ax: Any, table: pd.DataFrame, views: Sequence[RunView], metric: str, rates: Sequence[float]) -> None:
    handles, labels = [], []
    for view in views:
        part = table[table["run"] == view.label].set_index("rate").reindex([float(r) for r in rates])
        (line,) = ax.plot(list(part.index), part[metric].to_numpy(float), marker="o")
        handles.append(line)
        labels.append(printable(view.label))
    ax.set_xticks([float(r) for r in rates], [f"{r:g}%" for r in rates], fontsize=7)
    ax.set_xlabel("filter rate (lowest-ranked samples dropped)", fontsize=8)
    ax.set_ylabel(metric_label(views, metric), fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(handles, labels, fontsize=6)  # labels passed explicitly: "_x" is not dropped
