"""``realbench report``: one HTML page that shows the images, not only the numbers.

Thumbnails are embedded (base64 JPEG), so the page opens from disk with no server and stays
small; each thumbnail links to its full-size file (sample PNGs in the run folders, scene
images written to ``<report>_files/`` beside the page). Plots are matplotlib PNGs, embedded.
"""
from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from PIL import Image

from .errors import RealBenchError
from .scene import natural_key
from .imageio import atomic_write_bytes, read_rgb, write_png
from .tables import format_value, leaderboard, load_meta, load_records, metric_info, scene_means

THUMB = 192
CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child,td:nth-child(2){text-align:left}
.scene{border-top:2px solid #888;margin-top:28px;padding-top:8px}
.row{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
figure{margin:0;font-size:12px;max-width:200px}figure img{display:block;border:1px solid #bbb}
.method{margin:6px 0}.note{color:#a00}.muted{color:#666;font-size:13px}
"""


def _data_uri(array: np.ndarray, size: int = THUMB, fmt: str = "JPEG") -> str:
    image = Image.fromarray(array)
    image.thumbnail((size, size), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=85) if fmt == "JPEG" else image.save(buffer, format=fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _figure(array: np.ndarray, href: str, caption: str) -> str:
    return (f'<figure><a href="{html.escape(href)}"><img src="{_data_uri(array)}" alt="{html.escape(caption)}">'
            f"</a><figcaption>{caption}</figcaption></figure>")


def _plot_uri(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _plots(records: pd.DataFrame, metrics: Sequence[str]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    per_scene = scene_means(records, metrics)
    methods = sorted(records["method"].unique())
    scenes = sorted(per_scene["scene"].unique(), key=natural_key)
    for metric in metrics:
        if metric not in records or records[metric].isna().all():
            continue
        info = metric_info(metric)
        fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(scenes) * max(1, len(methods)) / 2), 3.2))
        width = 0.8 / max(1, len(methods))
        for k, method in enumerate(methods):
            part = per_scene[per_scene["method"] == method].set_index("scene").reindex(scenes)
            values = part[metric].replace([np.inf, -np.inf], np.nan)
            ax.bar(np.arange(len(scenes)) + k * width, values, width, label=method)
        ax.set_xticks(np.arange(len(scenes)) + width * (len(methods) - 1) / 2, scenes, rotation=60, ha="right",
                      fontsize=8)
        ax.set_ylabel(f"{metric} {info.arrow}")
        ax.set_title(f"{metric} per scene (mean over samples)")
        ax.legend(fontsize=8)
        out.append((f"{metric} per scene", _plot_uri(fig)))
        fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(methods)), 3))
        data = [records.loc[records["method"] == m, metric].replace([np.inf, -np.inf], np.nan).dropna() for m in methods]
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(methods) + 1), methods, rotation=20)
        ax.set_ylabel(f"{metric} {info.arrow}")
        ax.set_title(f"{metric} over samples")
        out.append((f"{metric} distribution", _plot_uri(fig)))
    return out


def _values(row: pd.Series, metrics: Sequence[str]) -> str:
    return " · ".join(f"{m} {format_value(m, row[m])}" for m in metrics if m in row)


def _tinted(target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    tinted = target.astype(np.float32)
    tinted[mask] = 0.55 * tinted[mask] + 0.45 * np.array([255.0, 40.0, 40.0])
    return tinted.round().astype(np.uint8)


def build_report(run_dirs: Sequence[str | Path], out: str | Path, by: str | None = None,
                 data: str | None = None) -> Path:
    """Write the report; returns its path."""
    from .loading import load_benchmark

    out = Path(out)
    run_dirs = [Path(d) for d in run_dirs]
    metas = [load_meta(d) for d in run_dirs]
    frames = []
    for run_dir, meta in zip(run_dirs, metas):
        frame = load_records(run_dir)
        frame["run_dir"] = str(run_dir)
        frames.append(frame)
    records = pd.concat(frames, ignore_index=True)
    if records.empty:
        raise RealBenchError("the run folders hold no records", path=", ".join(map(str, run_dirs)))
    metrics = list(dict.fromkeys(m for meta in metas for m in meta["metrics"]))
    by = by or metrics[0]
    if by not in metrics:
        raise RealBenchError(f"--by {by}: the runs have no such metric (they have {', '.join(metrics)})")
    higher = metric_info(by).higher_is_better
    table = leaderboard(run_dirs)
    files_dir = out.with_name(out.stem + "_files")
    scene_ids = sorted(records["scene"].unique(), key=natural_key)
    spec = data or metas[0]["data"]["spec"]
    scenes, note = {}, ""
    try:
        scenes = {s.id: s for s in load_benchmark(spec, scene_ids, require_gt=False)}
    except RealBenchError as exc:
        note = f"Scene images unavailable ({exc}); pass --data to show them."

    def rel(path: Path) -> str:
        return os.path.relpath(path, out.parent)

    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>realbench report</title>"
             f"<style>{CSS}</style></head><body>",
             "<h1>realbench report</h1>",
             f"<p class='muted'>Runs: {', '.join(html.escape(str(d)) for d in run_dirs)}. Data: {html.escape(str(spec))}. "
             f"Mean over samples within a scene, then over scenes. Best/worst samples by {html.escape(by)} "
             f"({'higher' if higher else 'lower'} is better); top/bottom-ranked by reference correspondences "
             f"(seed selection).</p>",
             "<h2>Leaderboard</h2>", table.to_html(index=False, na_rep="unavailable", float_format=lambda v: f"{v:.4g}",
                                                   border=0)]
    if note:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    parts.append("<h2>Plots</h2><div class='row'>")
    parts += [f"<figure style='max-width:none'><img src='{uri}' alt='{html.escape(t)}'><figcaption>{html.escape(t)}"
              f"</figcaption></figure>" for t, uri in _plots(records, metrics)]
    parts.append("</div><h2>Scenes</h2>")
    for scene_id in scene_ids:
        part = records[records["scene"] == scene_id]
        parts.append(f"<div class='scene' id='{html.escape(scene_id)}'><h3>{html.escape(scene_id)} "
                     f"<span class='muted'>({html.escape(str(part['task'].iloc[0]))})</span></h3><div class='row'>")
        scene = scenes.get(scene_id)
        if scene is not None:
            folder = files_dir / scene_id
            pictures = [(f"ref {i}", r, folder / f"ref{i}.png") for i, r in enumerate(scene.refs)]
            pictures.append(("target (missing region tinted)", _tinted(scene.target, scene.mask), folder / "target.png"))
            if scene.gt is not None:
                pictures.append(("ground truth", scene.gt, folder / "gt.png"))
            for caption, array, path in pictures:
                if not path.exists():
                    write_png(path, array)
                parts.append(_figure(array, rel(path), html.escape(caption)))
        parts.append("</div><div class='row' style='gap:28px'>")
        for method in sorted(part["method"].unique()):
            samples = part[part["method"] == method].dropna(subset=[by])
            if samples.empty:
                continue
            ordered = samples.sort_values(by, ascending=not higher, kind="stable")
            chosen = [("best", ordered.iloc[0])] + ([("worst", ordered.iloc[-1])] if len(ordered) > 1 else [])
            if len(samples) > 1 and "correspondences" in samples and samples["correspondences"].notna().all():
                ranked = samples.sort_values(["correspondences", "sample"], ascending=[False, True], kind="stable")
                chosen += [("top-ranked", ranked.iloc[0]), ("bottom-ranked", ranked.iloc[-1])]
            parts.append(f"<div class='method'><b>{html.escape(method)}</b> "
                         f"<span class='muted'>{len(samples)} samples</span><div class='row'>")
            for label, row in chosen:
                path = Path(row["run_dir"]) / row["image"]
                ranks = (f" · {int(row['correspondences'])} correspondences"
                         if "correspondences" in row and pd.notna(row["correspondences"]) else "")
                caption = (f"{label} (sample {int(row['sample'])}, seed {int(row['seed'])})<br>"
                           f"{_values(row, metrics)}{ranks}")
                parts.append(_figure(read_rgb(path), rel(path), caption))
            parts.append("</div></div>")
        parts.append("</div></div>")
    parts.append("</body></html>\n")
    atomic_write_bytes(out, "\n".join(parts).encode())
    return out
