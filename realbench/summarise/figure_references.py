"""Fig. 8 of RealFill: quality as the number of references grows, from runs that differ only in
``--max-refs`` (same method, method version, method config, seed, benchmark and data).

Limiting the references changes the scenes' content checksum, so such runs never share a data
checksum; they are grouped only after proving that each one scored the data's own scenes with
its first ``max_refs`` references (the recorded scene checksums are recomputed from the loaded
scenes). A run without a limit (``max_refs`` None) is drawn at "all": each scene's own reference
count, whose range the tick states. A scene with fewer references than a run's limit uses all of
its own (as the run did). Values: per run, the mean over the group's common scenes of each
scene's mean over samples, with a 95 % BCa bootstrap interval over scenes.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from realbench.core.paths import printable
from realbench.core.scene import Scene

from .figure_common import (
    add_footer,
    closed_on_error,
    metric_label,
    pyplot,
    run_name,
    scored_metrics,
)
from .runview import RunView
from .stats import bootstrap_ci
from .summary import mean_or_nan, scene_means

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

NO_GROUP = ("no runs differ only in --max-refs (same method, config, seed and data, two or more reference "
            "limits); make them with `realbench evaluate ... --max-refs K`")


def identity(view: RunView) -> tuple[Any, ...]:
    """Everything that makes a run what it is, except its reference limit."""
    meta = view.meta
    return (meta.method, str(meta.method_info.get("version", "")), json.dumps(meta.config, sort_keys=True, default=str),
            meta.seed, view.benchmark, meta.data.name)


def content_problem(view: RunView, scenes: Mapping[str, Scene]) -> str | None:
    """None when every record of ``view`` scored a loaded scene with the run's first ``max_refs``
    references (by content checksum), else what does not match."""
    limit = view.meta.max_refs
    expected: dict[str, str] = {}
    for record in view.raw:
        scene = scenes.get(record.scene)
        if scene is None:
            return f"its scene '{printable(record.scene)}' is not in the data loaded for the figure"
        if record.scene not in expected:
            limited = scene.with_refs(list(scene.refs[:limit])) if limit is not None else scene
            expected[record.scene] = limited.checksum
        if record.scene_checksum != expected[record.scene]:
            refs = f"its first {limit} references" if limit is not None else "all its references"
            return (f"scene '{printable(record.scene)}' was scored with other content than the data's scene with "
                    f"{refs} (checksum {record.scene_checksum}, expected {expected[record.scene]})")
    return None


def reference_groups(views: Sequence[RunView], scenes: Mapping[str, Scene]
                     ) -> tuple[list[list[RunView]], list[tuple[str, str]]]:
    """Groups of runs that differ only in ``max_refs`` (sorted by it, no limit last), and the
    runs left out of a group they would belong to, with why."""
    by_identity: dict[tuple[Any, ...], list[RunView]] = {}
    for view in views:
        by_identity.setdefault(identity(view), []).append(view)
    groups: list[list[RunView]] = []
    refused: list[tuple[str, str]] = []
    for members in by_identity.values():
        if len({v.meta.max_refs for v in members}) < 2:
            continue
        kept: dict[int | None, RunView] = {}
        for view in members:
            problem = content_problem(view, scenes)
            if problem is None and view.meta.max_refs in kept:
                problem = f"same --max-refs as run {printable(kept[view.meta.max_refs].label)}"
            if problem is None:
                kept[view.meta.max_refs] = view
            else:
                refused.append((printable(view.label), problem))
        if len(kept) >= 2:
            groups.append(sorted(kept.values(), key=_limit_order))
    return groups, refused


def _limit_order(view: RunView) -> tuple[int, int]:
    return (1, 0) if view.meta.max_refs is None else (0, view.meta.max_refs)


def common_scenes(group: Sequence[RunView]) -> list[str]:
    shared = set.intersection(*(set(v.scenes) for v in group))
    return [s for s in group[0].scenes if s in shared]


def tick(view: RunView, scenes: Mapping[str, Scene], scene_ids: Sequence[str]) -> str:
    """``2`` for a limit, ``all (2-5)`` for none: how many references the run used per scene."""
    counts = [len(scenes[s].refs) for s in scene_ids]
    if view.meta.max_refs is not None:
        used = sorted({min(view.meta.max_refs, n) for n in counts})
        return str(view.meta.max_refs) + ("" if used == [view.meta.max_refs] else f" (used {used[0]}-{used[-1]})")
    low, high = min(counts), max(counts)
    return f"all ({low})" if low == high else f"all ({low}-{high})"


def reference_curve(group: Sequence[RunView], scenes: Mapping[str, Scene],
                    metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows (run, max_refs, references, metric, mean, ci95_low, ci95_high, scenes): what Fig. 8 draws."""
    scene_ids = common_scenes(group)
    metrics = list(metrics) if metrics is not None else comparable_metrics(group)
    rows = []
    for view in group:
        records = view.records[view.records["scene"].isin(scene_ids)]
        per_scene = scene_means(records, metrics)
        for metric in metrics:
            values = per_scene[metric].to_numpy(dtype=float)
            low, high = bootstrap_ci(values)
            rows.append({"run": view.label, "max_refs": view.meta.max_refs, "references": tick(view, scenes, scene_ids),
                         "metric": metric, "mean": mean_or_nan(per_scene[metric]), "ci95_low": low,
                         "ci95_high": high, "scenes": len(per_scene)})
    return pd.DataFrame(rows)


def comparable_metrics(group: Sequence[RunView]) -> list[str]:
    """Metrics every run of the group scored under the same recorded protocol."""
    return [m for m in scored_metrics(group)
            if all(m in v.meta.metric_protocols for v in group)
            and len({json.dumps(v.meta.metric_protocols[m], sort_keys=True, default=str) for v in group}) == 1]


def reference_figure(group: Sequence[RunView], scenes: Mapping[str, Scene]) -> MplFigure:
    """Fig. 8 for one group (the caller saves and closes it)."""
    curve = reference_curve(group, scenes)
    metrics = list(dict.fromkeys(curve["metric"])) if not curve.empty else []
    with pyplot() as plt:
        panel = max(3.6, 0.75 * len(group) + 1)  # inches per panel: room for every tick
        fig, axes = plt.subplots(1, max(1, len(metrics)), squeeze=False, figsize=(panel * max(1, len(metrics)), 3.4))
        with closed_on_error(fig):
            for ax, metric in zip(axes.flat, metrics, strict=False):
                _curve_panel(ax, curve[curve["metric"] == metric], metric_label(group, metric))
            fig.suptitle(f"Fig. 8 · {printable(group[0].method)}: quality vs number of references "
                         f"(mean over {len(common_scenes(group))} scenes, 95 % bootstrap interval)", fontsize=9)
            add_footer(fig, *reference_provenance(group), "all: no --max-refs, each scene's own reference count "
                       "(range in the tick); a scene with fewer references than a limit uses all of its own")
    return fig


def _curve_panel(ax: Any, part: pd.DataFrame, label: str) -> None:
    x = np.arange(len(part))
    mean = part["mean"].to_numpy(float)
    below = np.clip(mean - part["ci95_low"].to_numpy(float), 0, None)
    above = np.clip(part["ci95_high"].to_numpy(float) - mean, 0, None)
    ax.errorbar(x, mean, yerr=np.vstack([below, above]), marker="o", capsize=3)
    ax.set_xticks(x, [str(t).replace(" (", "\n(") for t in part["references"]], fontsize=7)  # two lines: no overlap
    ax.set_xlabel("references (--max-refs)", fontsize=8)
    ax.set_ylabel(label, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_xlim(-0.5, len(part) - 0.5)


def reference_provenance(group: Sequence[RunView]) -> tuple[str, str]:
    """The runs, and the data: one name, a checksum per run (each run's references differ)."""
    runs = "runs: " + "; ".join(run_name(v) for v in group)
    data = (f"data: {printable(group[0].data_name)}, the same scenes and targets with their references limited per "
            "run (checksums: " + ", ".join(f"{printable(v.label)} {v.checksum[:8]}" for v in group) + ")")
    return runs, data
