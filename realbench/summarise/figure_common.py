"""What every paper figure shares: which runs and data it came from (drawn in the PNG and in its
caption, so a figure copied into a paper still says where it came from), literal text, small
panels, and PNG bytes with the figure closed.

Panels are shrunk (box filter) only after anything is blended into them at full size, so a
panel is the full-size picture made smaller, never a blend of shrunk parts.
"""
from __future__ import annotations

import contextlib
import io
import math
import textwrap
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image

from realbench.core.imageio import read_rgb
from realbench.core.paths import inside, printable

from .formatting import arrow
from .report_plots import literal_text
from .runview import RunView

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

DPI = 150  # PNG resolution: a 2-inch panel is 300 px, enough for a printed column
PANEL_SIDE = 400  # px: panels are shrunk to at most this before drawing
FOOTER_POINTS = 6.5


@contextlib.contextmanager
def pyplot() -> Iterator[Any]:
    """``report_plots.literal_text()`` (Agg; ``$`` and a leading ``_`` drawn as given)."""
    with literal_text() as plt:
        yield plt


def png_bytes(fig: MplFigure, dpi: int = DPI) -> bytes:
    """The figure as PNG (everything drawn, footer included); the figure is closed."""
    import matplotlib.pyplot as plt

    try:
        buffer = io.BytesIO()
        with pyplot():
            fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
        return buffer.getvalue()
    finally:
        plt.close(fig)


@contextlib.contextmanager
def closed_on_error(fig: MplFigure) -> Iterator[MplFigure]:
    """A figure being drawn is closed if drawing fails (the caller closes it otherwise)."""
    try:
        yield fig
    except BaseException:
        import matplotlib.pyplot as plt

        plt.close(fig)
        raise


def run_name(view: RunView) -> str:
    return f"{printable(view.label)} (config {view.config_hash})"


def provenance(views: Sequence[RunView], data: str | None = None) -> str:
    """``runs: A (config ...), B (config ...) · data: name@checksum``: what a figure came from."""
    if data is None:
        data = ", ".join(dict.fromkeys(printable(v.data) for v in views))
    return f"runs: {'; '.join(run_name(v) for v in views)} · data: {data}"


def add_footer(fig: MplFigure, *lines: str) -> None:
    """Lines drawn under everything else the figure holds (wrapped to its width), so they are in
    the saved PNG (which is cut to what is drawn); call it last."""
    width_in, height_in = fig.get_size_inches()
    canvas: Any = fig.canvas  # Agg (literal_text): it has a renderer
    drawn = fig.get_tightbbox(canvas.get_renderer())  # inches; below 0 where a legend hangs under the axes
    chars = max(40, int(max(drawn.width, width_in * 0.8) * 72 / (FOOTER_POINTS * 0.55)))
    text = "\n".join(textwrap.fill(line, chars) for line in lines if line)
    top = min(0.0, drawn.y0 / height_in) - 0.02
    fig.text(drawn.x0 / width_in, top, text, fontsize=FOOTER_POINTS, ha="left", va="top", color="0.25")


def metric_label(views: Sequence[RunView], metric: str) -> str:
    """``psnr ↑``: the direction as the runs recorded it (no arrow when none did)."""
    for view in views:
        info = view.metric_info(metric)
        if info and "higher_is_better" in info:
            return f"{metric} {arrow(bool(info['higher_is_better']))}"
    return metric


def higher_is_better(views: Sequence[RunView], metric: str) -> bool:
    for view in views:
        info = view.metric_info(metric)
        if info and "higher_is_better" in info:
            return bool(info["higher_is_better"])
    return True


def scored_metrics(views: Sequence[RunView]) -> list[str]:
    """Metrics the runs asked for that hold at least one value, in the runs' order."""
    names = dict.fromkeys(m for view in views for m in view.metrics)
    return [m for m in names if any(m in v.records and v.records[m].notna().any() for v in views)]


def correspondence_counts(records: pd.DataFrame) -> pd.Series:
    """The records' ``correspondences`` as numbers (NaN where a sample has none)."""
    if "correspondences" not in records:
        return pd.Series(np.nan, index=records.index, dtype=float)
    return pd.to_numeric(records["correspondences"], errors="coerce")


def sample_image(view: RunView, row: pd.Series) -> np.ndarray:
    """A record's image, from inside its run folder only."""
    path = inside(view.path, str(row["image"]), "record image")
    return read_rgb(path, str(row["scene"]))


def shrink(array: np.ndarray, max_side: int = PANEL_SIDE) -> np.ndarray:
    """``array`` (HxW or HxWxC) as float64, box-filtered down to at most ``max_side``; unchanged
    values when it is already small enough."""
    array = np.asarray(array, dtype=np.float64)
    height, width = array.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return array
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    channels = array[..., None] if array.ndim == 2 else array
    planes = [np.asarray(Image.fromarray(channels[..., c].astype(np.float32)).resize(size, Image.Resampling.BOX),
                         dtype=np.float64) for c in range(channels.shape[2])]
    out = np.stack(planes, axis=-1)
    return out[..., 0] if array.ndim == 2 else out


def grid(count: int, columns: int) -> tuple[int, int]:
    """(rows, columns) for ``count`` panels, at most ``columns`` wide."""
    cols = max(1, min(count, columns))
    return math.ceil(max(count, 1) / cols), cols


def bare(ax: Any) -> None:
    """An image panel: no ticks, a thin grey frame (a white missing region stays visible), room
    for a title and a label under it."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("0.75")
        spine.set_linewidth(0.6)


def as_uint8(image: np.ndarray) -> np.ndarray:
    """A shrunk panel as uint8 (a quarter of float64's memory: Fig. 6 holds up to 64 of them)."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def show(ax: Any, image: np.ndarray, title: str = "", below: str = "", size: float = 8) -> None:
    """Draw an image (uint8 as it is; float 0-255, e.g. an overlay, unrounded) in a bare panel,
    with a wrapped title and a label under it."""
    pixels = image if image.dtype == np.uint8 else np.clip(image / 255.0, 0.0, 1.0)
    ax.imshow(pixels, interpolation="nearest")
    bare(ax)
    if title:
        ax.set_title(textwrap.fill(title, 24), fontsize=size)
    if below:
        ax.set_xlabel("\n".join(textwrap.fill(line, 30) for line in below.split("\n")), fontsize=size - 1)
