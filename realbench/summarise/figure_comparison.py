"""Fig. 5 of RealFill: per scene the references, the target, the ground truth and one output per
run side by side, with a semi-transparent (50 %) white overlay on the *known* region of the
ground truth and of every output, so the eye goes to what each method filled.

Each run shows one sample per scene: its best by the ranking metric (the first metric the runs
scored, unless told; ties go to the lower sample index), or its lowest-index sample where the run
has no value of that metric for the scene. The panel says which.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image

from realbench.core.paths import printable
from realbench.core.scene import Scene

from .figure_common import (
    PANEL_SIDE,
    add_footer,
    as_uint8,
    closed_on_error,
    grid,
    higher_is_better,
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

OVERLAY_ALPHA = 0.5
COLUMNS = 8  # panels per row before wrapping


def white_overlay(image: np.ndarray, known: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """``image`` (0-255, float64 out) with white blended over the ``known`` pixels (bool) at
    ``alpha``: a known pixel becomes ``(1 - alpha) * pixel + alpha * 255``, a missing one stays."""
    out = np.array(image, dtype=np.float64)
    known = np.asarray(known, dtype=bool)
    out[known] = (1.0 - alpha) * out[known] + alpha * 255.0
    return out


def known_region(scene: Scene, shape: tuple[int, ...]) -> np.ndarray:
    """The scene's known region (not masked), at an image's size (an output stored at another
    size gets the mask resized to it, nearest neighbour)."""
    known = ~scene.mask
    if known.shape != tuple(shape[:2]):
        resized = Image.fromarray(known.astype(np.uint8) * 255).resize((shape[1], shape[0]), Image.Resampling.NEAREST)
        known = np.asarray(resized) >= 128
    return known


def overlaid_panel(image: np.ndarray, scene: Scene, max_side: int = PANEL_SIDE) -> np.ndarray:
    """The panel of an output or the ground truth: the overlay at full size, then shrunk."""
    return shrink(white_overlay(image, known_region(scene, image.shape)), max_side)


def chosen_sample(view: RunView, scene_id: str, by: str | None, higher: bool) -> tuple[pd.Series | None, str]:
    """The sample a run shows for a scene, and a line saying which and why."""
    samples = view.records[view.records["scene"] == scene_id].sort_values("sample", kind="stable")
    if samples.empty:
        return None, "no sample for this scene"
    if by is not None and by in samples and samples[by].notna().any():
        ordered = samples.dropna(subset=[by]).sort_values(by, ascending=not higher, kind="stable")
        row = ordered.iloc[0]
        note = f"sample {int(row['sample'])}: {by} {float(row[by]):.4g}\n(best of {len(samples)})"
    else:
        row = samples.iloc[0]
        note = f"sample {int(row['sample'])}" + (f" (no {by} recorded)" if by else "")
    fallback = row.get("fallback")
    if isinstance(fallback, str) and fallback:
        note += f"\nfallback: {printable(fallback)}"
    return row, note


def ranking_metric(views: Sequence[RunView], by: str | None = None) -> str | None:
    """The metric that picks each run's sample: ``by``, else the first metric the runs scored."""
    if by is not None:
        return by
    scored = scored_metrics(views)
    return scored[0] if scored else None


def comparison_figure(views: Sequence[RunView], scene: Scene, by: str | None = None,
                      max_side: int = PANEL_SIDE) -> MplFigure:
    """Fig. 5 for one scene (the caller saves and closes it: ``figure_common.png_bytes``)."""
    by = ranking_metric(views, by)
    higher = higher_is_better(views, by) if by else True
    panels: list[tuple[np.ndarray, str, str]] = [
        (as_uint8(shrink(ref, max_side)), f"reference {i + 1}", "") for i, ref in enumerate(scene.refs)]
    panels.append((as_uint8(shrink(scene.target, max_side)), "target", "white: missing"))
    if scene.gt is not None:
        panels.append((overlaid_panel(scene.gt, scene, max_side), "ground truth", ""))
    for view in views:
        row, note = chosen_sample(view, scene.id, by, higher)
        image = overlaid_panel(sample_image(view, row), scene, max_side) if row is not None else None
        blank = np.full((*scene.size, 3), 255, np.uint8)
        panels.append((image if image is not None else as_uint8(shrink(blank, max_side)), printable(view.label), note))
    return _draw(panels, scene, views, by)


def _draw(panels: list[tuple[np.ndarray, str, str]], scene: Scene, views: Sequence[RunView],
          by: str | None) -> MplFigure:
    rows, cols = grid(len(panels), COLUMNS)
    height, width = scene.size
    panel_in = 2.0
    with pyplot() as plt:
        fig, axes = plt.subplots(rows, cols, squeeze=False,
                                 figsize=(cols * panel_in, rows * (panel_in * height / width + 0.9)))
        with closed_on_error(fig):
            for ax, (image, title, below) in zip(axes.flat, panels, strict=False):
                show(ax, image, title, below)
            for ax in list(axes.flat)[len(panels):]:
                ax.set_visible(False)
            fig.suptitle(f"Fig. 5 · scene {printable(scene.id)}: known region under a 50 % white overlay",
                         fontsize=10)
            choice = (f"each run's best sample by {metric_label(views, by)} (lower sample index on ties; the "
                      f"lowest-index sample where {by} is missing)" if by else "each run's lowest-index sample")
            add_footer(fig, provenance(views), f"outputs: {choice}")
    return fig


def comparison_caption(views: Sequence[RunView], scene_id: str, by: str | None) -> str:
    choice = f"its best sample by {by} (lowest-index where {by} is missing)" if by else "its lowest-index sample"
    return (f"Fig. 5, scene {printable(scene_id)}: references, target, ground truth and one output per run "
            f"({choice}); the known region of the ground truth and of every output is under a 50 % white overlay, "
            f"so what was filled stands out. {provenance(views)}.")
