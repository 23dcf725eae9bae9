"""The report's plots (PNG): per-scene means and per-sample distributions of each metric, per run.
Labels come from data (run labels, scene ids), so they are drawn literally: no mathtext for
``$...$``, and a label starting with ``_`` still shows in the legend."""
from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from .report_assets import data_uri
from .summary import scene_means


@contextlib.contextmanager
def literal_text() -> Iterator[object]:
    """matplotlib (Agg) with text drawn as given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
        yield plt


def png_uri(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return data_uri(buffer.getvalue(), "png")


def _legend(ax, handles: list, labels: Sequence[str]) -> None:
    ax.legend(handles, list(labels), fontsize=8)  # explicit labels: "_x" is not dropped


def _per_scene(plt, per_scene: pd.DataFrame, metric: str, label: str, runs: list[str], scenes: list[str]) -> str:
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(scenes) * max(1, len(runs)) / 2), 3.2))
    width = 0.8 / max(1, len(runs))
    handles = []
    for k, run in enumerate(runs):
        part = per_scene[per_scene["method"] == run].set_index("scene").reindex(scenes)
        handles.append(ax.bar(np.arange(len(scenes)) + k * width, part[metric], width))
    ax.set_xticks(np.arange(len(scenes)) + width * (len(runs) - 1) / 2, scenes, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(label)
    ax.set_title(f"{metric} per scene (mean over samples)")
    _legend(ax, handles, runs)
    return png_uri(fig)


def _distribution(plt, records: pd.DataFrame, metric: str, label: str, runs: list[str]) -> str:
    fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(runs)), 3))
    ax.boxplot([records.loc[records["run"] == r, metric].dropna() for r in runs], showmeans=True)
    ax.set_xticks(range(1, len(runs) + 1), runs, rotation=20)
    ax.set_ylabel(label)
    ax.set_title(f"{metric} over samples")
    return png_uri(fig)


def metric_plots(records: pd.DataFrame, labels: dict[str, str], runs: list[str], scenes: list[str]) -> list[tuple]:
    """(title, PNG data URI) per plot; ``labels``: metric -> axis label (with its arrow)."""
    out = []
    per_scene = scene_means(records.assign(method=records["run"]), list(labels))
    with literal_text() as plt:
        for metric, label in labels.items():
            if metric not in records or records[metric].isna().all():
                continue
            out.append((f"{metric} per scene", _per_scene(plt, per_scene, metric, label, runs, scenes)))
            out.append((f"{metric} distribution", _distribution(plt, records, metric, label, runs)))
    return out
