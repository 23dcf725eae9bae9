"""The paper's figures as PNG files a paper can use (``realbench report ... --figures DIR``), and
for the HTML report: RealFill's Fig. 5 (methods side by side per scene, known region under a white
overlay), Fig. 6 (samples ranked by correspondences; correspondences vs metrics), Fig. 8 (quality
vs number of references) and Table 2 as a line plot over filter rates.

Every figure is made from what the runs recorded and says which runs (labels, config hashes) and
data (name, content checksum) it came from, in the PNG and in its caption. A figure the runs
cannot support is skipped with the reason, never an error; bad input (an unreadable run folder,
a record image outside its run) is still the one-line error it is everywhere else, and a figure
whose images cannot be read is skipped with that error as its reason.

Fig. 5 and Table 2 compare runs, so they use the runs on the first run's data (content checksum),
unless ``allow_mixed_data``; Fig. 6 is per run; Fig. 8 groups runs that differ only in
``max_refs``, whose checksums differ by construction (see ``figure_references``).
"""
from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from realbench.core.errors import RealBenchError
from realbench.core.files import atomic_write_bytes
from realbench.core.paths import check_out, inside, printable
from realbench.core.scene import Scene
from realbench.data.loading import load_benchmark
from realbench.run.naming import slug

from .figure_common import DPI, PANEL_SIDE, png_bytes, provenance
from .figure_comparison import comparison_caption, comparison_figure, ranking_metric
from .figure_filtering import RATES, filter_rate_figure, filtering_unsupported
from .figure_ranking import (
    POOLED_MEANING,
    correspondence_scatter,
    ranking_figure,
    ranking_unsupported,
)
from .figure_references import (
    NO_GROUP,
    content_problem,
    identity,
    reference_figure,
    reference_groups,
    reference_provenance,
)
from .runview import RunView, read_runs

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure


KINDS = ("fig5", "fig6", "fig8", "table2")


@dataclass(frozen=True)
class Figure:
    """A figure made: its name (also its file's stem), title, PNG path and caption."""

    name: str
    title: str
    path: Path
    caption: str


@dataclass(frozen=True)
class Rendered:
    """A figure drawn but not written: what the HTML report embeds."""

    name: str
    title: str
    caption: str
    png: bytes

    @property
    def filename(self) -> str:
        return f"{self.name}.png"


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass
class FigureSet:
    """What ``make_figures`` wrote, and what it could not make with why."""

    figures: list[Figure] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Inputs:
    views: list[RunView]
    main: list[RunView]  # the runs compared with each other (Fig. 5, Table 2)
    scenes: dict[str, Scene]
    scenes_note: str  # why scene pictures are missing, if they are
    by: str | None
    max_side: int
    dpi: int
    names: dict[str, str]  # run label -> its part of file names (unique)
    empty: list[str]  # labels of runs without records


def iter_figures(runs: Sequence[Any], data: str | None = None, by: str | None = None,
                 allow_mixed_data: bool = False, max_side: int = PANEL_SIDE, dpi: int = DPI,
                 kinds: Collection[str] = KINDS) -> Iterator[Rendered | Skipped]:
    """Every figure the runs support, drawn one at a time (bounded memory), and every one skipped.
    ``data``: where to load the scenes from (default: where the first run loaded them);
    ``by``: the metric that picks Fig. 5's sample per run (default: the first one scored);
    ``max_side``: Fig. 5's panel size in pixels; ``dpi``: the PNGs' resolution; ``kinds``: which
    figures (``fig5``, ``fig6``, ``fig8``, ``table2``; default all)."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise RealBenchError(f"unknown figure '{printable(unknown[0])}' (one of {', '.join(KINDS)})")
    inputs = _inputs(runs, data, by, allow_mixed_data, max_side, dpi)
    for label in inputs.empty:
        yield Skipped(f"all ({label})", "the run holds no records")
    main = {id(view) for view in inputs.main}
    for view in inputs.views:
        if id(view) not in main:
            yield Skipped(f"fig5, table2 ({printable(view.label)})",
                          f"scored on other data ({view.data}) than the first run ({inputs.main[0].data}); pass "
                          "allow_mixed_data=True (--allow-mixed-data) to compare it anyway")
    used: set[str] = set()
    makers = {"fig5": _fig5, "fig6": _fig6, "fig8": _fig8, "table2": _table2}
    for item in itertools.chain.from_iterable(makers[kind](inputs) for kind in KINDS if kind in kinds):
        yield _unique(item, used)


def _unique(item: Rendered | Skipped, used: set[str]) -> Rendered | Skipped:
    """Names are file stems: a name made twice (labels and scene ids that join alike) gets ``-2``."""
    if isinstance(item, Skipped):
        return item
    name, n = item.name, 2
    while name.lower() in used:
        name, n = f"{item.name}-{n}", n + 1
    used.add(name.lower())
    return replace(item, name=name)


def make_figures(runs: Sequence[Any], out_dir: str | Path, data: str | None = None, by: str | None = None,
                 allow_mixed_data: bool = False, max_side: int = PANEL_SIDE, dpi: int = DPI,
                 kinds: Collection[str] = KINDS) -> FigureSet:
    """Write every figure the runs support into ``out_dir`` as ``<name>.png`` (atomically; the
    folder is created) and return them with the ones skipped and why (arguments: ``iter_figures``)."""
    out = Path(out_dir)
    check_out(out, "--figures")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RealBenchError(f"cannot make the figures folder ({exc.strerror or exc})", path=str(out)) from None
    result = FigureSet()
    for item in iter_figures(runs, data, by, allow_mixed_data, max_side, dpi, kinds):
        if isinstance(item, Skipped):
            result.skipped.append((item.name, item.reason))
            continue
        path = inside(out, item.filename, "figure file")
        try:
            atomic_write_bytes(path, item.png)
        except OSError as exc:
            raise RealBenchError(f"cannot write the figure ({exc.strerror or exc})", path=str(path)) from None
        result.figures.append(Figure(item.name, item.title, path, item.caption))
    return result


def _inputs(runs: Sequence[Any], data: str | None, by: str | None, allow_mixed_data: bool, max_side: int,
            dpi: int) -> _Inputs:
    every = read_runs(runs, allow_mixed_data=True)
    views = [v for v in every if v.raw]
    if not views:
        raise RealBenchError("the run folders hold no records", path=", ".join(str(v.path) for v in every))
    main = views if allow_mixed_data else [v for v in views if v.checksum == views[0].checksum]
    scenes, note = _scenes(views, data)
    names: dict[str, str] = {}
    for view in views:
        base = slug(view.label, 40)
        name, n = base, 2
        while name in names.values():
            name, n = f"{base}-{n}", n + 1
        names[view.label] = name
    empty = [printable(v.label) for v in every if not v.raw]
    return _Inputs(views, main, scenes, note, ranking_metric(main, by), max_side, dpi, names, empty)


def _scenes(views: Sequence[RunView], data: str | None) -> tuple[dict[str, Scene], str]:
    """The scenes' pictures, loaded from where (and under the benchmark) the first run recorded."""
    spec = data or views[0].meta.data.spec
    ids = list(dict.fromkeys(s for v in views for s in v.scenes))
    try:
        bench = load_benchmark(spec, ids, require_gt=False, benchmark=views[0].benchmark)
    except RealBenchError as exc:
        return {}, f"the scenes cannot be loaded from '{printable(spec)}' ({exc}); pass data= (--data) to show them"
    return {s.id: s for s in bench}, ""


def _drawn(name: str, title: str, caption: str, draw: Callable[[], MplFigure], dpi: int) -> Rendered | Skipped:
    """One figure drawn and encoded, or skipped with the error that stopped it (e.g. an unreadable image)."""
    try:
        return Rendered(name, title, caption, png_bytes(draw(), dpi))
    except RealBenchError as exc:
        return Skipped(name, str(exc))


def _fig5(c: _Inputs) -> Iterator[Rendered | Skipped]:
    if not c.scenes:
        yield Skipped("fig5", c.scenes_note)
        return
    for view in c.main:  # the pictures must be the ones the runs scored, or outputs sit beside other scenes
        problem = content_problem(view, c.scenes)
        if problem:
            yield Skipped("fig5", f"{printable(view.label)}: {problem}; pass data= (--data) with the data the runs "
                          "scored")
            return
    for scene_id in sorted({s for v in c.main for s in v.scenes}, key=c.main[0].sort_key):
        scene = c.scenes.get(scene_id)
        if scene is None:
            yield Skipped(f"fig5-{scene_id}", "the scene is not in the data loaded for the figures")
            continue
        yield _drawn(f"fig5-{scene_id}", f"Fig. 5 · scene {printable(scene_id)}",
                     comparison_caption(c.main, scene_id, c.by),
                     functools.partial(comparison_figure, c.main, scene, c.by, c.max_side), c.dpi)


def _fig6(c: _Inputs) -> Iterator[Rendered | Skipped]:
    for view in c.views:
        label, stem = printable(view.label), c.names[view.label]
        why = ranking_unsupported(view)
        if why:
            yield Skipped(f"fig6-{stem}", f"{label}: {why}")
            continue
        source = provenance([view])
        for scene_id in view.scenes:
            yield _drawn(f"fig6-{stem}-{scene_id}", f"Fig. 6 · {label} · scene {printable(scene_id)}",
                         f"Fig. 6, run {label}, scene {printable(scene_id)}: the samples ordered by reference "
                         f"correspondences (most first), each with its count; fewer matches, lower quality. {source}.",
                         functools.partial(ranking_figure, view, scene_id, c.by), c.dpi)
        yield _drawn(f"fig6-scatter-{stem}", f"Fig. 6 · {label}: correspondences vs metrics",
                     f"Fig. 6, run {label}: reference correspondences against each metric, a colour per scene, "
                     f"Spearman's rho per scene and pooled ({POOLED_MEANING}). {source}.",
                     functools.partial(correspondence_scatter, view), c.dpi)


def _fig8(c: _Inputs) -> Iterator[Rendered | Skipped]:
    if not c.scenes:
        yield Skipped("fig8", c.scenes_note)
        return
    groups, refused = reference_groups(c.views, c.scenes)
    for label, why in refused:
        yield Skipped(f"fig8 ({label})", why)
    if not groups:
        yield Skipped("fig8", NO_GROUP)
    for group in groups:
        first = group[0]
        name = f"fig8-{slug(first.method, 40)}-{hashlib.sha256(repr(identity(first)).encode()).hexdigest()[:6]}"
        runs, data = reference_provenance(group)
        yield _drawn(name, f"Fig. 8 · {printable(first.method)}: quality vs number of references",
                     f"Fig. 8, {printable(first.method)}: each metric against the number of references (--max-refs; "
                     "'all': each scene's own count), mean over the common scenes with 95 % bootstrap intervals over "
                     f"scenes. {runs}. {data}.",
                     functools.partial(reference_figure, group, c.scenes), c.dpi)


def _table2(c: _Inputs) -> Iterator[Rendered | Skipped]:
    ranked = []
    for view in c.main:
        why = filtering_unsupported(view)
        if why:
            yield Skipped(f"table2 ({printable(view.label)})", why)
        else:
            ranked.append(view)
    if not ranked:
        yield Skipped("table2", "no run recorded correspondence scores to filter by")
        return
    rates = ", ".join(f"{r}" for r in RATES)
    yield _drawn("table2-filter-rates", "Table 2 · metrics over filter rates",
                 f"Table 2 as a plot: each metric after dropping the lowest-ranked {rates} % of every scene's samples "
                 f"(by reference correspondences), one line per run; the numbers of `realbench leaderboard "
                 f"--filter-rates {','.join(str(r) for r in RATES)}`. {provenance(ranked)}.",
                 functools.partial(filter_rate_figure, ranked), c.dpi)
