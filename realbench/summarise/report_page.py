"""The report's HTML: a header naming every run and the data, a compact leaderboard (identity on
hover, so it fits a 1400 px window), plots, and per scene its pictures and each run's best, worst,
top- and bottom-ranked samples. Every text from data is escaped."""
from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from realbench.core.imageio import read_image_file
from realbench.core.paths import inside, printable

from .formatting import count, format_value, metric_directions, rendered, with_arrow
from .report_assets import THUMB, Assets, data_uri, jpeg, thumb_uri
from .report_plots import metric_plots
from .runview import RunView

CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child,td:nth-child(2),td:last-child,th:last-child{text-align:left}
.wide{overflow-x:auto;max-width:100%}td.run{max-width:22em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.scene{border-top:2px solid #888;margin-top:28px;padding-top:8px}
.row{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
figure{margin:0;font-size:12px;max-width:200px}figure img{display:block;border:1px solid #bbb}
.method{margin:6px 0}.note{color:#a00}.muted{color:#666;font-size:13px}
"""
SHOWN = ("run", "split", "scenes", "samples")  # leaderboard columns shown; the identity goes on hover
IDENTITY = ("method", "data", "config_hash", "protocols", "device", "source")


@dataclass
class ReportContent:
    views: list[RunView]
    records: pd.DataFrame  # every run's samples, with a ``run`` column
    metrics: list[str]
    by: str | None  # the metric that picks best and worst
    higher: bool
    table: pd.DataFrame  # the leaderboard
    scene_ids: list[str]
    scenes: dict[str, Any]
    note: str
    spec: str
    labels: dict[str, str]  # metric -> "psnr ↑"
    jpeg_quality: int
    figures: list = field(default_factory=list)  # Rendered | Skipped, from realbench.figures
    written: Any = None  # the FigureSet written with --figures, if any


SMALL = THUMB * 3 // 2  # longer side (px) up to which an image is its own thumbnail
GENERATOR = "<meta name='generator' content='realbench report'>"  # how a later build knows the page is ours


def e(text: Any) -> str:
    """Text from data, shown literally: HTML-escaped, control characters and undecodable bytes of
    file names written as escapes."""
    return html.escape(printable(str(text)), quote=True)


def plain(caption: str) -> str:
    """A caption's HTML as the plain text an ``alt`` attribute holds (line breaks as "; ")."""
    text = re.sub(r"<br\s*/?>", "; ", caption)
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def _figure(array: np.ndarray, href: str, caption: str) -> str:
    """A thumbnail linking to the full-size image; an image hardly larger than a thumbnail is shown
    as itself (a second, barely smaller copy would double its bytes for nothing)."""
    if max(array.shape[:2]) <= SMALL:
        return (f'<figure><img src="{e(href)}" alt="{e(plain(caption))}" loading="lazy" style="max-width:{THUMB}px">'
                f"<figcaption>{caption}</figcaption></figure>")
    return (f'<figure><a href="{e(href)}"><img src="{thumb_uri(array)}" alt="{e(plain(caption))}" loading="lazy">'
            f"</a><figcaption>{caption}</figcaption></figure>")


def _header(c: ReportContent) -> str:
    runs = "; ".join(f"<b>{e(v.label)}</b> ({e(v.method)}, config {e(v.config_hash)}, {e(v.path)})" for v in c.views)
    datas = ", ".join(sorted({v.data for v in c.views}))
    ranking = f"{e(c.by)} ({'higher' if c.higher else 'lower'} is better)" if c.by else "no metric"
    return (f"<p class='muted'>Runs: {runs}. Data: {e(datas)} ({e(c.spec)}). Mean over samples within a scene, then "
            f"over scenes. Best/worst samples by {ranking}; top/bottom-ranked by reference correspondences (seed "
            f"selection). Pictures are JPEG at quality {c.jpeg_quality}; click a thumbnail for full size.</p>")


def leaderboard_html(table: pd.DataFrame) -> str:
    """The leaderboard without its identity columns, which the run cell shows on hover."""
    metrics = list(metric_directions(table))
    columns = [c for c in (*SHOWN, "filter", *metrics, "notes") if c in table.columns]
    cells = rendered(table)
    index = {c: i for i, c in enumerate(table.columns)}
    head = "".join(f"<th>{e(with_arrow(table, c))}</th>" for c in columns)
    body = []
    for row in cells:
        title = "; ".join(f"{c}: {row[index[c]]}" for c in IDENTITY if c in index)
        tds = "".join(f"<td class='run' title='{e(title)}'>{e(row[index[c]])}</td>" if c == "run"
                      else f"<td>{e(row[index[c]])}</td>" for c in columns)
        body.append(f"<tr>{tds}</tr>")
    return f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def _values(row: pd.Series, metrics: Sequence[str], unavailable: dict[str, str]) -> str:
    return " · ".join(f"{m} {'unavailable' if m in unavailable else format_value(m, row[m])}"
                      for m in metrics if m in row)


def _tinted(target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    tinted = target.astype(np.float32)
    tinted[mask] = 0.55 * tinted[mask] + 0.45 * np.array([255.0, 40.0, 40.0])
    return tinted.round().astype(np.uint8)


def _scene_pictures(scene, assets: Assets) -> list[str]:
    pictures = [(f"ref {i}", r, f"scenes/{scene.id}/ref{i}.jpg") for i, r in enumerate(scene.refs)]
    pictures.append(("target (missing region tinted)", _tinted(scene.target, scene.mask),
                     f"scenes/{scene.id}/target.jpg"))
    if scene.gt is not None:
        pictures.append(("ground truth", scene.gt, f"scenes/{scene.id}/gt.jpg"))
    return [_figure(array, assets.image(name, array), e(caption)) for caption, array, name in pictures]


GALLERY = 12  # samples a generation-only run (scene variants, Fig. 11) shows per scene


def _chosen(samples: pd.DataFrame, by: str | None, higher: bool, scored: bool) -> list[tuple[str, pd.Series]]:
    """Which samples a run shows for a scene: best and worst by ``by``, top- and bottom-ranked; a
    run that scored nothing (scene variants) shows a gallery of its first samples."""
    if not scored:
        return [(f"variant {k + 1}", row) for k, (_, row) in enumerate(samples.head(GALLERY).iterrows())]
    ranked_by = samples.dropna(subset=[by]) if by and by in samples else samples.iloc[0:0]
    chosen = [("sample", samples.iloc[0])]
    if not ranked_by.empty:
        ordered = ranked_by.sort_values(by, ascending=not higher, kind="stable")
        chosen = [("best", ordered.iloc[0])] + ([("worst", ordered.iloc[-1])] if len(ordered) > 1 else [])
    if len(samples) > 1 and "correspondences" in samples and samples["correspondences"].notna().all():
        ranked = samples.sort_values(["correspondences", "sample"], ascending=[False, True], kind="stable")
        chosen += [("top-ranked", ranked.iloc[0]), ("bottom-ranked", ranked.iloc[-1])]
    return chosen


def _sample_figure(view: RunView, scene_id: str, label: str, row: pd.Series, assets: Assets) -> str:
    path = inside(view.path, str(row["image"]), "record image")  # never a file outside the run
    ranks = (f" · {int(row['correspondences'])} correspondences"
             if "correspondences" in row and pd.notna(row["correspondences"]) else "")
    fallback = (f"<br><span class='note'>fallback: {e(row['fallback'])}</span>"
                if pd.notna(row.get("fallback")) and row.get("fallback") else "")
    caption = (f"{label} (sample {int(row['sample'])}, seed {int(row['seed'])})<br>"
               f"{e(_values(row, view.metrics, view.unavailable))}{ranks}{fallback}")
    image, _, _ = read_image_file(path)
    name = f"samples/{_slug(view.label)}/{scene_id}/{int(row['sample']):03d}.jpg"
    return _figure(image, assets.image(name, image), caption)


def _run_samples(c: ReportContent, view: RunView, scene_id: str, part: pd.DataFrame, assets: Assets) -> str:
    samples = part[part["run"] == view.label]
    if samples.empty:
        return ""
    fell = samples["fallback"].dropna() if "fallback" in samples else pd.Series(dtype=object)
    warning = (f" <span class='note'>fallback {e(fell.iloc[0])} in {len(fell)} of {count(len(samples), 'sample')}"
               "</span>") if len(fell) else ""
    chosen = _chosen(samples, c.by if c.by in view.metrics else None, c.higher, bool(view.metrics))
    figures = "".join(_sample_figure(view, scene_id, label, row, assets) for label, row in chosen)
    return (f"<div class='method'><b>{e(view.label)}</b> <span class='muted'>{count(len(samples), 'sample')}</span>"
            f"{warning}<div class='row'>{figures}</div></div>")


def _scene_section(c: ReportContent, scene_id: str, assets: Assets) -> str:
    part = c.records[c.records["scene"] == scene_id]
    scene = c.scenes.get(scene_id)
    pictures = "".join(_scene_pictures(scene, assets)) if scene is not None else ""
    runs = "".join(_run_samples(c, view, scene_id, part, assets) for view in c.views)
    return (f"<div class='scene' id='{e(scene_id)}'><h3>{e(scene_id)} <span class='muted'>"
            f"({e(part['task'].iloc[0])})</span></h3><div class='row'>{pictures}</div>"
            f"<div class='row' style='gap:28px'>{runs}</div></div>")


def _figure_uri(png: bytes, name: str) -> str:
    """Photos (Fig. 5) as JPEG in the page, as every photo is; line art (plots) stays PNG."""
    if not name.startswith("fig5"):
        return data_uri(png, "png")
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return data_uri(jpeg(np.asarray(image.convert("RGB"))))


def _figures_section(c: ReportContent) -> list[str]:
    if not c.figures and c.written is None:
        return []
    parts = ["<h2>The paper's figures</h2>"]
    if c.written is not None:
        parts.append(f"<p class='muted'>PNG files of every figure: {e(count(len(c.written.figures), 'file'))} in "
                     f"{e(c.written.figures[0].path.parent if c.written.figures else '')}</p>")
    parts.append("<div class='row'>")
    skipped = []
    for item in c.figures:
        if hasattr(item, "png"):
            parts.append(f"<figure style='max-width:none'><img src='{_figure_uri(item.png, item.name)}' "
                         f"alt='{e(item.title)}' style='max-width:100%'><figcaption>{e(item.caption)}</figcaption>"
                         "</figure>")
        else:
            skipped.append(item)
    parts.append("</div>")
    parts += [f"<p class='muted'>{e(item.name)} not drawn: {e(item.reason)}</p>" for item in skipped[:20]]
    return parts


def render_page(c: ReportContent, assets: Assets) -> str:
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>" + GENERATOR +
             "<meta name='viewport' content='width=device-width, initial-scale=1'><title>realbench report</title>"
             f"<style>{CSS}</style></head><body>", "<h1>realbench report</h1>", _header(c),
             "<h2>Leaderboard</h2>", leaderboard_html(c.table)]
    for view in c.views:
        parts += [f"<p class='note'>{e(view.label)}: metric {e(name)} unavailable ({e(reason[:300])})</p>"
                  for name, reason in view.unavailable.items()]
    parts += [f"<p class='note'>{e(note)}</p>" for note in [c.note, *c.table.attrs.get("notes", [])] if note]
    plots = metric_plots(c.records, c.labels, [v.label for v in c.views], c.scene_ids)
    parts.append("<h2>Plots</h2><div class='row'>")
    parts += [f"<figure style='max-width:none'><img src='{uri}' alt='{e(t)}'><figcaption>{e(t)}</figcaption>"
              "</figure>" for t, uri in plots]
    parts.append("</div>")
    parts += _figures_section(c)
    parts.append("<h2>Scenes</h2>")
    parts += [_scene_section(c, scene_id, assets) for scene_id in c.scene_ids]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _slug(text: str) -> str:
    import hashlib
    import re

    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:40] or "run"
    return f"{slug}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"
