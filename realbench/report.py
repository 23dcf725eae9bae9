"""``realbench report``: one HTML page that shows the images, not only the numbers.

Every section is per *run* (its label), never per method name, so two configurations of one
method stay apart. Thumbnails are embedded (base64 JPEG). Full-size images (scene pictures and
the samples shown) are embedded too when the whole page stays under ``SELF_CONTAINED_LIMIT``
(``--self-contained`` forces it), else written to ``<report>_files/`` beside the page, which is
rebuilt from scratch each time, so the page and that folder can be moved together. Fallbacks and
unavailable metrics are shown in the tables and beside the samples they concern.
"""
from __future__ import annotations

import base64
import html
import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from .errors import RealBenchError
from .formatting import format_value, rendered
from .imageio import FOLDER_MODE, atomic_write_bytes, encode_png, read_image_file
from .loading import load_benchmark
from .paths import check_out, inside
from .runview import RunView, metric_info, read_runs
from .summary import scene_means
from .tables import column, leaderboard

THUMB = 192
SELF_CONTAINED_LIMIT = 32 * 2**20  # bytes: the page embeds every full-size image below this
CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child,td:nth-child(2){text-align:left}
.scene{border-top:2px solid #888;margin-top:28px;padding-top:8px}
.row{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
figure{margin:0;font-size:12px;max-width:200px}figure img{display:block;border:1px solid #bbb}
.method{margin:6px 0}.note{color:#a00}.muted{color:#666;font-size:13px}
"""


@dataclass
class Report:
    path: Path
    files: Path | None  # the folder of full-size images (None when self-contained)
    self_contained: bool

    @property
    def total_bytes(self) -> int:
        size = self.path.stat().st_size
        if self.files is not None and self.files.is_dir():
            size += sum(p.stat().st_size for p in self.files.rglob("*") if p.is_file())
        return size


def _thumb_uri(array: np.ndarray, size: int = THUMB) -> str:
    image = Image.fromarray(array)
    image.thumbnail((size, size), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return f"data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _png_uri(data: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(data).decode()}"


def _plot_uri(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return _png_uri(buffer.getvalue())


class _Assets:
    """Full-size images: embedded as data URIs, or files in the report's folder (links relative)."""

    def __init__(self, embed: bool, files_dir: Path, staging: Path | None):
        self.embed, self.files_dir, self.staging = embed, files_dir, staging

    def link(self, name: str, data: bytes) -> str:
        if self.embed:
            return _png_uri(data)
        path = self.staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return f"{self.files_dir.name}/{name}"


def _figure(array: np.ndarray, href: str, caption: str) -> str:
    return (f'<figure><a href="{html.escape(href)}"><img src="{_thumb_uri(array)}" alt="{html.escape(caption)}">'
            f"</a><figcaption>{caption}</figcaption></figure>")


def _plots(records: pd.DataFrame, metrics: Sequence[str], views: list[RunView]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    runs = [v.label for v in views]
    per_scene = scene_means(records.assign(method=records["run"]), metrics)
    scenes = sorted(per_scene["scene"].unique(), key=views[0].sort_key)
    for metric in metrics:
        if metric not in records or records[metric].isna().all():
            continue
        label = column(metric, views)
        fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(scenes) * max(1, len(runs)) / 2), 3.2))
        width = 0.8 / max(1, len(runs))
        for k, run in enumerate(runs):
            part = per_scene[per_scene["method"] == run].set_index("scene").reindex(scenes)
            ax.bar(np.arange(len(scenes)) + k * width, part[metric], width, label=run)
        ax.set_xticks(np.arange(len(scenes)) + width * (len(runs) - 1) / 2, scenes, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel(label)
        ax.set_title(f"{metric} per scene (mean over samples)")
        ax.legend(fontsize=8)
        out.append((f"{metric} per scene", _plot_uri(fig)))
        fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(runs)), 3))
        ax.boxplot([records.loc[records["run"] == r, metric].dropna() for r in runs], showmeans=True)
        ax.set_xticks(range(1, len(runs) + 1), runs, rotation=20)
        ax.set_ylabel(label)
        ax.set_title(f"{metric} over samples")
        out.append((f"{metric} distribution", _plot_uri(fig)))
    return out


def _values(row: pd.Series, metrics: Sequence[str], unavailable: dict[str, str]) -> str:
    parts = [f"{m} {'unavailable' if m in unavailable else format_value(m + ' ↑', row[m])}"
             for m in metrics if m in row]
    return " · ".join(parts)


def _tinted(target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    tinted = target.astype(np.float32)
    tinted[mask] = 0.55 * tinted[mask] + 0.45 * np.array([255.0, 40.0, 40.0])
    return tinted.round().astype(np.uint8)


def _html_table(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                   for row in rendered(table))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _estimate(views: list[RunView], scenes: dict) -> int:
    """Bytes the full-size images would add to the page if embedded (base64: 4/3)."""
    total = sum((v.path / r["image"]).stat().st_size for v in views for r in v.raw if (v.path / r["image"]).is_file())
    for scene in scenes.values():
        pixels = sum(a.size for a in (*scene.refs, scene.target)) + (scene.gt.size if scene.gt is not None else 0)
        total += pixels
    return total * 4 // 3


def build_report(runs: Sequence[Any], out: str | Path, by: str | None = None, data: str | None = None,
                 self_contained: bool | None = None, allow_mixed_data: bool = False) -> Report:
    """Write the report; ``self_contained`` None embeds everything when the page stays under
    ``SELF_CONTAINED_LIMIT``. Returns where it is and whether it is self-contained."""
    out = Path(out)
    views = read_runs(runs, allow_mixed_data)
    frames = []
    for view in views:
        frame = view.records.copy()
        frame["run"], frame["run_dir"] = view.label, str(view.path)
        frames.append(frame)
    records = pd.concat(frames, ignore_index=True)
    if records.empty:
        raise RealBenchError("the run folders hold no records", path=", ".join(str(v.path) for v in views))
    metrics = list(dict.fromkeys(m for view in views for m in view.metrics))
    scored = [m for m in metrics if m in records and not records[m].isna().all()]
    by = by or (scored[0] if scored else None)
    if by is not None and by not in metrics:
        raise RealBenchError(f"--by {by}: the runs have no such metric (they have {', '.join(metrics) or 'none'})")
    higher = metric_info(by, views)["higher_is_better"] if by else True
    table = leaderboard(views, allow_mixed_data=allow_mixed_data)
    scene_ids = sorted(records["scene"].unique(), key=views[0].sort_key)
    spec = data or views[0].meta["data"]["spec"]
    scenes, note = {}, ""
    try:
        scenes = {s.id: s for s in load_benchmark(spec, scene_ids, require_gt=False)}
    except RealBenchError as exc:
        note = f"Scene images unavailable ({exc}); pass --data to show them."
    embed = self_contained if self_contained is not None else _estimate(views, scenes) <= SELF_CONTAINED_LIMIT
    files_dir = out.with_name(out.stem + "_files")
    if out.is_dir():
        raise RealBenchError("report --out is a folder; give the HTML file's path", path=str(out))
    check_out(out.parent, "report --out folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for stale in [*out.parent.glob(f".{out.name}.*.tmp"), *out.parent.glob(f".{files_dir.name}.*")]:
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
        staging = None if embed else Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{files_dir.name}."))
    except OSError as exc:
        raise RealBenchError(f"cannot write the report ({exc.strerror or exc})", path=str(out)) from None
    try:
        page = _page(views, records, metrics, by, higher, table, scene_ids, scenes, note, spec,
                     _Assets(embed, files_dir, staging))
        if staging is not None:  # the new image folder replaces the old one whole: no stale images
            os.chmod(staging, FOLDER_MODE)
            old = files_dir.with_name(files_dir.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if files_dir.exists():
                files_dir.rename(old)
            staging.rename(files_dir)
            staging = None
            shutil.rmtree(old, ignore_errors=True)
        elif files_dir.is_dir():
            shutil.rmtree(files_dir)
        atomic_write_bytes(out, page.encode())
    except OSError as exc:
        raise RealBenchError(f"cannot write the report ({exc.strerror or exc})", path=str(out)) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return Report(out, None if embed else files_dir, embed)


def _page(views, records, metrics, by, higher, table, scene_ids, scenes, note, spec, assets: _Assets) -> str:
    unavailable = {v.label: v.unavailable for v in views}
    datas = sorted({v.data for v in views})
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>realbench report</title>"
             f"<style>{CSS}</style></head><body>", "<h1>realbench report</h1>",
             "<p class='muted'>Runs: " + "; ".join(f"<b>{html.escape(v.label)}</b> ({html.escape(v.method)}, config "
                                                     f"{html.escape(v.config_hash)}, {html.escape(str(v.path))})"
                                                     for v in views)
             + f". Data: {html.escape(', '.join(datas))} ({html.escape(str(spec))}). Mean over samples within a "
             f"scene, then over scenes. Best/worst samples by {html.escape(str(by))} "
             f"({'higher' if higher else 'lower'} is better); top/bottom-ranked by reference correspondences "
             f"(seed selection).</p>",
             "<h2>Leaderboard</h2>", _html_table(table)]
    for view in views:
        for name, reason in view.unavailable.items():
            parts.append(f"<p class='note'>{html.escape(view.label)}: metric {html.escape(name)} unavailable "
                         f"({html.escape(reason[:300])})</p>")
    if note:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    parts.append("<h2>Plots</h2><div class='row'>")
    parts += [f"<figure style='max-width:none'><img src='{uri}' alt='{html.escape(t)}'><figcaption>{html.escape(t)}"
              f"</figcaption></figure>" for t, uri in _plots(records, metrics, views)]
    parts.append("</div><h2>Scenes</h2>")
    for scene_id in scene_ids:
        part = records[records["scene"] == scene_id]
        parts.append(f"<div class='scene' id='{html.escape(scene_id)}'><h3>{html.escape(scene_id)} "
                     f"<span class='muted'>({html.escape(str(part['task'].iloc[0]))})</span></h3><div class='row'>")
        scene = scenes.get(scene_id)
        if scene is not None:
            pictures = [(f"ref {i}", r, f"scenes/{scene_id}/ref{i}.png") for i, r in enumerate(scene.refs)]
            pictures.append(("target (missing region tinted)", _tinted(scene.target, scene.mask),
                             f"scenes/{scene_id}/target.png"))
            if scene.gt is not None:
                pictures.append(("ground truth", scene.gt, f"scenes/{scene_id}/gt.png"))
            for caption, array, name in pictures:
                parts.append(_figure(array, assets.link(name, encode_png(array)), html.escape(caption)))
        parts.append("</div><div class='row' style='gap:28px'>")
        for view in views:
            samples = part[part["run"] == view.label]
            if samples.empty:
                continue
            ranked_by = samples.dropna(subset=[by]) if by and by in samples else samples.iloc[0:0]
            chosen = []
            if not ranked_by.empty:
                ordered = ranked_by.sort_values(by, ascending=not higher, kind="stable")
                chosen = [("best", ordered.iloc[0])] + ([("worst", ordered.iloc[-1])] if len(ordered) > 1 else [])
            else:
                chosen = [("sample", samples.iloc[0])]
            if len(samples) > 1 and "correspondences" in samples and samples["correspondences"].notna().all():
                ranked = samples.sort_values(["correspondences", "sample"], ascending=[False, True], kind="stable")
                chosen += [("top-ranked", ranked.iloc[0]), ("bottom-ranked", ranked.iloc[-1])]
            fell = samples["fallback"].dropna() if "fallback" in samples else pd.Series(dtype=object)
            warning = (f" <span class='note'>fallback {html.escape(str(fell.iloc[0]))} in {len(fell)} of "
                       f"{len(samples)} samples</span>") if len(fell) else ""
            parts.append(f"<div class='method'><b>{html.escape(view.label)}</b> "
                         f"<span class='muted'>{len(samples)} samples</span>{warning}<div class='row'>")
            for label, row in chosen:
                path = inside(view.path, str(row["image"]), "record image")  # never a file outside the run
                ranks = (f" · {int(row['correspondences'])} correspondences"
                         if "correspondences" in row and pd.notna(row["correspondences"]) else "")
                fallback = f"<br><span class='note'>fallback: {html.escape(str(row['fallback']))}</span>" \
                    if pd.notna(row.get("fallback")) and row.get("fallback") else ""
                caption = (f"{label} (sample {int(row['sample'])}, seed {int(row['seed'])})<br>"
                           f"{html.escape(_values(row, view.metrics, unavailable[view.label]))}{ranks}{fallback}")
                image, data, _ = read_image_file(path)  # one read for the thumbnail and the full-size link
                name = f"samples/{_slug(view.label)}/{scene_id}/{int(row['sample']):03d}.png"
                parts.append(_figure(image, assets.link(name, data), caption))
            parts.append("</div></div>")
        parts.append("</div></div>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _slug(text: str) -> str:
    import hashlib
    import re

    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:40] or "run"
    return f"{slug}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"
