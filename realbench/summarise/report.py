"""``realbench report``: one HTML page that shows the images, not only the numbers.

Every section is per *run* (its label), never per method name, so two configurations of one
method stay apart. Thumbnails are embedded; full-size images are embedded too when the whole page
stays under ``SELF_CONTAINED_LIMIT`` (``--self-contained`` forces it), else written to
``<report>_files/`` beside the page, so the page and that folder can be moved together. Without
an output path the report goes into the first run's folder. Scenes are reloaded with the
benchmark each run recorded. Fallbacks and unavailable metrics are shown in the tables and beside
the samples they concern.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from realbench.core.errors import RealBenchError, RealBenchWarning
from realbench.core.files import atomic_write_bytes
from realbench.core.paths import check_out, printable
from realbench.data.loading import load_benchmark

from .figure_references import content_problem
from .figures import KINDS, iter_figures, make_figures
from .formatting import count, with_arrow
from .leaderboards import leaderboard
from .report_assets import JPEG_QUALITY, AssetFolder
from .report_page import GENERATOR, ReportContent, render_page
from .runview import RunView, metric_info, read_runs

PAGE_FIGURES = ("fig5", "fig8", "table2")  # Fig. 6 is one figure per run and scene: files only (--figures)

SELF_CONTAINED_LIMIT = 32 * 2**20  # bytes: the page embeds every full-size image below this
JPEG_BYTES_PER_PIXEL = 0.35  # what a JPEG of a photo at quality 90 takes, with room to spare


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


def _records(views: list[RunView]) -> pd.DataFrame:
    frames = [view.records.assign(run=view.label) for view in views]
    records = pd.concat(frames, ignore_index=True)
    if records.empty:
        raise RealBenchError("the run folders hold no records", path=", ".join(str(v.path) for v in views))
    return records


def _scenes(views: list[RunView], scene_ids: list[str], data: str | None) -> tuple[dict, str]:
    """The scenes' pictures, loaded from where (and under the benchmark) the runs recorded, and
    proven to be what the first run scored (by content checksum). A ``data`` the user named that
    cannot be loaded or holds other content is an error; the recorded place gone or changed is a
    warning and a note in the page (the report still shows the numbers)."""
    spec = data or views[0].meta.data.spec
    try:
        scenes = {s.id: s for s in load_benchmark(spec, scene_ids, require_gt=False, benchmark=views[0].benchmark)}
        problem = content_problem(views[0], scenes)
    except RealBenchError as exc:
        if data is not None:
            raise
        problem = str(exc)
    if problem is None:
        return scenes, ""
    if data is not None:
        raise RealBenchError(f"--data holds other scenes than run '{printable(views[0].label)}' scored: {problem}",
                             path=str(data))
    note = (f"Scene images unavailable: the data the runs recorded ({printable(spec)}) cannot be shown ({problem}); "
            "pass --data with the data the runs scored.")
    warnings.warn(note, RealBenchWarning, stacklevel=2)
    return {}, note


def _made_by_us(page: Path) -> bool:
    """Whether ``page`` is a report this module wrote: its generator tag near the top (earlier
    versions: their title)."""
    try:
        with page.open("rb") as handle:
            head = handle.read(1024)
        return GENERATOR.encode() in head or b"<title>realbench report</title>" in head
    except OSError:
        return False


def _estimate(views: list[RunView], scenes: dict, shown_per_run: int = 4) -> int:
    """Bytes the full-size images would add to the page if embedded (JPEG, base64: 4/3)."""
    pixels = sum(a.shape[0] * a.shape[1] for s in scenes.values() for a in (*s.refs, s.target)
                 + ((s.gt,) if s.gt is not None else ()))
    for view in views:
        sizes = {r.scene: scenes[r.scene].target.shape[:2] if r.scene in scenes else (512, 512) for r in view.raw}
        pixels += sum(h * w for h, w in sizes.values()) * shown_per_run
    return int(pixels * JPEG_BYTES_PER_PIXEL * 4 / 3)


def _ranking_metric(views: list[RunView], records: pd.DataFrame, by: str | None) -> tuple[list[str], str | None, bool]:
    metrics = list(dict.fromkeys(m for view in views for m in view.metrics))
    scored = [m for m in metrics if m in records and not records[m].isna().all()]
    by = by or (scored[0] if scored else None)
    if by is not None and by not in metrics:
        raise RealBenchError(f"--by {by}: the runs have no such metric (they have {', '.join(metrics) or 'none'})")
    return metrics, by, bool(metric_info(by, views)["higher_is_better"]) if by else True


def build_report(runs: Sequence[Any], out: str | Path | None = None, by: str | None = None, data: str | None = None,
                 self_contained: bool | None = None, allow_mixed_data: bool = False,
                 figures: str | Path | None = None, figure_kinds: Sequence[str] = KINDS) -> Report:
    """Write the report (default: ``report.html`` in the first run's folder); ``self_contained``
    None embeds everything when the page stays under ``SELF_CONTAINED_LIMIT``. The paper's figures
    are in the page; ``figures`` also writes them as PNG files a paper can use into that folder."""
    views = read_runs(runs, allow_mixed_data)
    if out is None:
        out = views[0].path / "report.html"
        if out.exists() and not _made_by_us(out):
            raise RealBenchError("the run folder holds a report.html realbench did not make; give --out",
                                 path=str(out))
    out = Path(out)
    if out.is_dir():
        raise RealBenchError("report --out is a folder; give the HTML file's path", path=str(out))
    if out.suffix.lower() not in (".html", ".htm"):
        raise RealBenchError("report --out must name an .html file (the page is written there)", path=str(out))
    check_out(out.parent, "report --out folder")
    assets_folder = AssetFolder(out)
    assets_folder.check()
    records = _records(views)
    metrics, by, higher = _ranking_metric(views, records, by)
    table = leaderboard(views, allow_mixed_data=allow_mixed_data)
    scene_ids = sorted(records["scene"].unique(), key=views[0].sort_key)
    scenes, note = _scenes(views, scene_ids, data)
    embed = self_contained if self_contained is not None else _estimate(views, scenes) <= SELF_CONTAINED_LIMIT
    written = make_figures(views, figures, data=data, by=by, allow_mixed_data=allow_mixed_data,
                           kinds=figure_kinds) if figures is not None else None
    shown = list(iter_figures(views, data=data, by=by, allow_mixed_data=allow_mixed_data, dpi=90,
                              kinds=[k for k in figure_kinds if k in PAGE_FIGURES]))
    content = ReportContent(views, records, metrics, by, higher, table, scene_ids, scenes, note,
                            data or views[0].meta.data.spec, {m: with_arrow(table, m) for m in metrics},
                            JPEG_QUALITY, shown, written)
    try:
        with assets_folder.building(embed) as assets:
            page = render_page(content, assets)
        atomic_write_bytes(out, page.encode())
    except OSError as exc:
        raise RealBenchError(f"cannot write the report ({exc.strerror or exc})", path=str(out)) from None
    return Report(out, None if embed else assets_folder.files_dir, embed)


__all__ = ["Report", "build_report", "count"]
