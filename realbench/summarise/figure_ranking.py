"""Fig. 6 of RealFill: a run's samples of one scene ordered by seed selection's score (the
recorded ``correspondences``: matched keypoints between the references and the filled region;
fewer matches, lower quality in the paper), each with its count printed under it; and, per run,
how well that score tracks each metric: Spearman's rho per scene and pooled.

"Pooled" means: over the samples of every scene where rho is defined, after subtracting each
scene's mean from both the correspondences and the metric, so differences between scenes (some
scenes match far more keypoints than others) do not count as agreement. A scene's rho is defined
when it has at least ``MIN_SAMPLES`` samples with both values and neither is constant.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from realbench.core.paths import printable

from .figure_common import (
    add_footer,
    as_uint8,
    closed_on_error,
    correspondence_counts,
    grid,
    metric_label,
    provenance,
    pyplot,
    sample_image,
    scored_metrics,
    show,
    shrink,
)
from .runview import RunView

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

COLUMNS = 8
SIDE = 256  # px: a panel is drawn 1.6 in wide (240 px at 150 dpi); a scene can have 64 samples
MIN_SAMPLES = 3  # a rank correlation of two points is +-1 whatever they are
POOLED = "(pooled, centred per scene)"
POOLED_MEANING = ("pooled: Spearman's rho over the samples of every scene where it is defined, after subtracting "
                  f"each scene's mean from both values; a scene's rho needs {MIN_SAMPLES}+ samples and neither value "
                  "constant")


def ranked_samples(view: RunView, scene_id: str) -> pd.DataFrame:
    """A scene's samples, most correspondences first (ties: lower sample index first, as seed
    selection keeps them), with ``correspondences`` as numbers."""
    part = view.records[view.records["scene"] == scene_id]
    part = part.assign(correspondences=correspondence_counts(part))
    ranked = part.sort_values(["correspondences", "sample"], ascending=[False, True], kind="stable")
    return ranked.reset_index(drop=True)


def ranking_unsupported(view: RunView) -> str | None:
    """Why a run has no Fig. 6, or None."""
    counts = correspondence_counts(view.records)
    if counts.empty or counts.isna().all():
        return "the run recorded no correspondence scores (made with --no-select?)"
    if counts.isna().any():
        return "some samples have no correspondence score; rerun `realbench evaluate` on the run to score them"
    if int(view.records.groupby("scene").size().max()) < 2:
        return "one sample per scene: nothing to order"
    return None


def ranking_figure(view: RunView, scene_id: str, metric: str | None = None, max_side: int = SIDE) -> MplFigure:
    """Fig. 6 for one run and scene (the caller saves and closes it); ``metric``'s value is
    printed under each sample too."""
    ranked = ranked_samples(view, scene_id)
    rows, cols = grid(len(ranked), COLUMNS)
    images = [as_uint8(shrink(sample_image(view, row), max_side)) for _, row in ranked.iterrows()]
    height, width = images[0].shape[:2] if images else (1, 1)
    with pyplot() as plt:
        fig, axes = plt.subplots(rows, cols, squeeze=False, figsize=(cols * 1.6, rows * (1.6 * height / width + 0.7)))
        with closed_on_error(fig):
            for ax, image, (_, row) in zip(axes.flat, images, ranked.iterrows(), strict=False):
                value = (f" · {metric} {float(row[metric]):.4g}"
                         if metric and metric in row and pd.notna(row[metric]) else "")
                matches = "?" if pd.isna(row["correspondences"]) else f"{int(row['correspondences'])}"
                show(ax, image, below=f"{matches} matches\nsample {int(row['sample'])}{value}")
            for ax in list(axes.flat)[len(images):]:
                ax.set_visible(False)
            fig.suptitle(f"Fig. 6 · {printable(view.label)} · scene {printable(scene_id)}: samples by reference "
                         "correspondences, most first", fontsize=9)
            add_footer(fig, provenance([view]), "count: matched keypoints between the references and the filled "
                       "region (seed selection's score); fewer matches, lower quality in RealFill")
    return fig


def _rho(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    if len(x) < MIN_SAMPLES or np.unique(x).size < 2 or np.unique(y).size < 2:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def correspondence_correlations(view: RunView, metrics: list[str] | None = None) -> pd.DataFrame:
    """Rows (scene, metric, samples, rho, p_value): per scene, then the pooled row (``POOLED``)."""
    records = view.records.assign(correspondences=correspondence_counts(view.records))
    metrics = scored_metrics([view]) if metrics is None else metrics
    rows = []
    for metric in metrics:
        pooled_x: list[np.ndarray] = []
        pooled_y: list[np.ndarray] = []
        for scene in view.scenes:
            part = records.loc[records["scene"] == scene, ["correspondences", metric]].dropna()
            x, y = part["correspondences"].to_numpy(float), part[metric].to_numpy(float)
            rho, p = _rho(x, y)
            rows.append({"scene": scene, "metric": metric, "samples": len(part), "rho": rho, "p_value": p})
            if np.isfinite(rho):
                pooled_x.append(x - x.mean())
                pooled_y.append(y - y.mean())
        x_all = np.concatenate(pooled_x) if pooled_x else np.zeros(0)
        y_all = np.concatenate(pooled_y) if pooled_y else np.zeros(0)
        rho, p = _rho(x_all, y_all)
        rows.append({"scene": POOLED, "metric": metric, "samples": len(x_all), "rho": rho, "p_value": p})
    return pd.DataFrame(rows, columns=["scene", "metric", "samples", "rho", "p_value"])


def rho_text(rho: float) -> str:
    return "n/a" if not np.isfinite(rho) else f"{rho:+.2f}"


def correspondence_scatter(view: RunView, metrics: list[str] | None = None) -> MplFigure:
    """Correspondences against each metric, a colour per scene, rho per scene in the legend and
    pooled in each panel's title (the caller saves and closes it)."""
    metrics = scored_metrics([view]) if metrics is None else metrics
    table = correspondence_correlations(view, metrics)
    records = view.records.assign(correspondences=correspondence_counts(view.records))
    with pyplot() as plt:
        fig, axes = plt.subplots(1, max(1, len(metrics)), squeeze=False, figsize=(4.2 * max(1, len(metrics)), 3.6))
        with closed_on_error(fig):
            for ax, metric in zip(axes.flat, metrics, strict=False):
                _scatter_panel(ax, view, records, table[table["metric"] == metric], metric)
            fig.suptitle(f"Fig. 6 · {printable(view.label)}: reference correspondences vs metrics (Spearman's rho)",
                         fontsize=9)
            add_footer(fig, provenance([view]), POOLED_MEANING)
    return fig


def _scatter_panel(ax: Any, view: RunView, records: pd.DataFrame, table: pd.DataFrame, metric: str) -> None:
    handles, labels = [], []
    by_scene = table.set_index("scene")
    for scene in view.scenes:
        part = records.loc[records["scene"] == scene, ["correspondences", metric]].dropna()
        if part.empty:
            continue
        handles.append(ax.scatter(part["correspondences"], part[metric], s=12, alpha=0.8))
        labels.append(f"{printable(scene)}: rho {rho_text(float(by_scene.loc[scene, 'rho']))} (n={len(part)})")
    pooled = by_scene.loc[POOLED]
    ax.set_title(f"{metric_label([view], metric)}: pooled rho {rho_text(float(pooled['rho']))} "
                 f"(n={int(pooled['samples'])})", fontsize=8)
    ax.set_xlabel("correspondences (matched keypoints)", fontsize=8)
    ax.set_ylabel(metric_label([view], metric), fontsize=8)
    ax.tick_params(labelsize=7)
    if handles:  # labels passed explicitly: a scene id starting with "_" is still listed
        ax.legend(handles, labels, fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.18),
                  ncol=2 if len(labels) > 6 else 1, frameon=False)
