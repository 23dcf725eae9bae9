"""``load_benchmark(spec)``: one entry point for every data source.

``spec`` is ``"sample"`` (the built-in benchmark), the official ``realfill_data_release_full.zip``
itself (unpacked once into realbench's cache), a folder in the RealBench release layout or any
folder above it (the unzip root: the ``RealBench/`` level is found; ``Qualitative/`` loads as its
own generation-only benchmark when given directly), a folder written by
``datasets.Dataset.save_to_disk`` or a Hugging Face hub dataset id. macOS metadata
(``__MACOSX/``, ``._*``, ``.DS_Store``) never counts as a scene or a photo, and scene ids sort
in natural order (0, 1, 2, ..., 10).
"""
from __future__ import annotations

import difflib
import fnmatch
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, cast

from realbench.core.errors import RealBenchError, RealBenchWarning
from realbench.core.fields import brief
from realbench.core.imageio import IMAGE_SUFFIXES, list_images, read_mask, read_rgb, sha256_file
from realbench.core.jsonio import read_json
from realbench.core.paths import check_name, check_utf8_path, expand_user, is_utf8, name_key, printable
from realbench.core.scene import TASKS, Scene, declared_task, natural_key, unknown_scene_message, validate_arrays
from realbench.core.unzip import ArchiveLimits, is_mac_junk
from realbench.core.words import count
from realbench.weights import is_hub_id

from .archive import unpack_archive
from .benchmarks import (
    BENCHMARKS,
    RELEASE_LAYOUT,
    BenchmarkDefinition,
    SceneLayout,
    definition_for_folder,
    get_definition,
)
from .hfdata import card_benchmark, is_parquet_folder, load_hub_dataset, load_saved_dataset
from .sample_data import ensure_sample


@dataclass
class Benchmark:
    """An ordered collection of scenes plus where they came from."""

    name: str
    spec: str
    kind: str  # "sample" | "folder" | "hf"
    scenes: list[Scene] = field(default_factory=list)
    note: str = ""  # how the data was reached (e.g. an archive unpacked into the cache)
    definition: Any = None  # the BenchmarkDefinition (protocol) the scenes follow

    def __post_init__(self) -> None:
        if self.definition is None:
            self.definition = get_definition()

    def subset(self, scenes: list[Scene]) -> Benchmark:
        """The same benchmark with other scenes (a shard, chosen ids, fewer references)."""
        return Benchmark(self.name, self.spec, self.kind, scenes, self.note, self.definition)

    @property
    def has_ground_truth(self) -> bool:
        return any(scene.gt is not None for scene in self.scenes)

    def __iter__(self) -> Iterator[Scene]:
        return iter(self.scenes)

    def __len__(self) -> int:
        return len(self.scenes)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.scenes]

    def __repr__(self) -> str:
        outpaint = sum(s.task == "outpaint" for s in self.scenes)
        return (f"Benchmark({self.name!r}, {len(self.scenes)} scenes: {outpaint} outpaint, "
                f"{len(self.scenes) - outpaint} inpaint, {self.definition.name} protocol, from {self.spec!r})")

    def __getitem__(self, scene_id: str | int) -> Scene:
        """By scene id, or by position (``bench[0]``) as a notebook user would expect."""
        if isinstance(scene_id, int):
            return self.scenes[scene_id]
        for scene in self.scenes:
            if scene.id == scene_id:
                return scene
        raise RealBenchError(unknown_scene_message(scene_id, self.ids, self.spec))


def _find(folder: Path, stem: str, scene_id: str | None = None) -> Path | None:
    """The one image file named ``stem`` (any image suffix); two that could be it (``gt.png`` and
    ``GT.png``, or ``gt.png`` and ``gt.jpg``) are refused, not chosen between."""
    if not folder.is_dir():
        return None
    wanted = {name_key(stem + suffix) for suffix in IMAGE_SUFFIXES}
    found = [p for p in _iterdir(folder) if name_key(p.name) in wanted and p.is_file()]
    if len(found) > 1:
        names = ", ".join(printable(p.name) for p in found)
        raise RealBenchError(f"{len(found)} files could be the {stem} image ({names}); keep one", scene=scene_id,
                             path=str(folder))
    return found[0] if found else None


MANIFEST = "manifest.json"


def _read_manifest(root: Path) -> dict[str, str]:
    """Optional ``manifest.json``: ``{"scenes": {"id": {"task": ...}}}`` or ``{"id": "task"}``;
    a manifest that is no file, or that names a scene with no folder here, is an error (a
    declaration nobody checks is one a typo silently voids)."""
    path = root / MANIFEST
    if not os.path.lexists(path):
        return {}
    if not path.is_file():
        raise RealBenchError("manifest is not a regular file (a folder, a pipe or a broken link); remove it or make "
                             "it a JSON file", path=str(path))
    raw = read_json(path, "manifest", max_bytes=4 * 2**20)
    if isinstance(raw, dict) and "scenes" in raw:  # a scene declared beside 'scenes' would go unread
        outside = [k for k in raw if k != "scenes" and isinstance(k, str) and is_utf8(k) and "/" not in k
                   and k not in (".", "..") and (root / k).is_dir()]
        if outside:
            raise RealBenchError(f"manifest has a 'scenes' mapping and declares scene '{printable(outside[0])}' "
                                 "beside it; put every scene under 'scenes'", path=str(path))
    entries = raw.get("scenes", raw) if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        raise RealBenchError(f"manifest must map scene ids to tasks ({{\"scenes\": {{\"id\": {{\"task\": "
                             f"\"inpaint\"}}}}}}), got {brief(entries if isinstance(raw, dict) else raw)}",
                             path=str(path))
    tasks = {}
    for scene_id, value in entries.items():
        if isinstance(value, dict) and value and "task" not in value:  # e.g. a mistyped "tsk"
            keys = ", ".join(printable(k) for k in sorted(map(str, value))[:5])
            raise RealBenchError(f"manifest entry declares no 'task' (its keys: {keys})",
                                 scene=printable(scene_id), path=str(path))
        task = value.get("task") if isinstance(value, dict) else value
        if task is not None and task not in TASKS:
            raise RealBenchError(f"task {brief(task)} must be one of {', '.join(TASKS)}", scene=printable(scene_id),
                                 path=str(path))
        check_name(scene_id, "the manifest's scene id", path=str(path))
        if not (root / scene_id).is_dir():
            known = [p.name for p in _scene_children(root)] if root.is_dir() else []
            raise RealBenchError(f"manifest names scene '{printable(scene_id)}', which has no folder here (scenes: "
                                 f"{', '.join(printable(k) for k in known[:20]) or 'none'})", path=str(path))
        if task is not None:
            tasks[scene_id] = task
    return tasks


def _iterdir(folder: Path) -> list[Path]:
    try:
        return sorted((p for p in folder.iterdir() if not is_mac_junk(p.name)), key=lambda p: natural_key(p.name))
    except OSError as exc:
        raise RealBenchError(f"cannot read folder ({exc.strerror or exc})", path=str(folder)) from None


def _scene_children(folder: Path, layout: SceneLayout = RELEASE_LAYOUT) -> list[Path]:
    return [p for p in _iterdir(folder) if p.is_dir() and not p.name.startswith(".") and layout.is_scene(p)]


def _find_named(root: Path, name: str, depth: int = 3) -> list[Path]:
    """Folders called ``name`` at most ``depth`` levels below ``root`` (macOS metadata skipped)."""
    found, level = [], [root]
    for _ in range(depth):
        level = [child for folder in level for child in _iterdir(folder)
                 if child.is_dir() and not child.name.startswith(".")]
        found += [folder for folder in level if folder.name == name]
    return found


def _with_scenes(root: Path, definitions: list[BenchmarkDefinition]) -> list[tuple[Path, BenchmarkDefinition]]:
    """(folder, definition) for each registered benchmark's folder found below ``root``."""
    found = []
    for definition in definitions:
        if definition.folder is None:
            continue
        found += [(folder, definition) for folder in _find_named(root, definition.folder)
                  if _scene_children(folder, definition.layout)]
    return found


def _here(root: Path, chosen: BenchmarkDefinition | None) -> tuple[list[Path], BenchmarkDefinition] | None:
    """``root`` as one scene, or as the folder of scenes, of the chosen benchmark, of the one named
    after ``root`` (or its parent), else of the default."""
    for folder, single in ((root.parent, True), (root, False)):
        definition = chosen or definition_for_folder(folder.name) or get_definition()
        if single and definition.layout.is_scene(root) and not _scene_children(root, definition.layout):
            return [root], definition
        if not single:
            scenes = _scene_children(root, definition.layout)
            if scenes:
                return scenes, definition
    return None


def locate(root: Path, chosen: BenchmarkDefinition | None = None) -> tuple[list[Path], BenchmarkDefinition]:
    """The scene folders at ``root`` and the benchmark definition they follow: ``root`` itself
    (named after a definition's folder, e.g. ``Qualitative``, or else the default protocol), or a
    benchmark's folder found below it (the unzip root of the release, any folder above): the
    default benchmark's, else the one scored benchmark found there. A generation-only set (no
    ground truth, like ``Qualitative``) is loaded only when pointed at, never picked for you."""
    if not root.exists():
        raise RealBenchError("data folder does not exist", path=str(root))
    if not root.is_dir():
        raise RealBenchError("data path is not a folder (or a .zip archive)", path=str(root))
    here = _here(root, chosen)
    if here is not None:
        return here
    default = chosen or get_definition()
    definitions = [BENCHMARKS.get(n) for n in BENCHMARKS.names() if BENCHMARKS.get(n).folder]
    found = _with_scenes(root, [d for d in definitions if d.name == default.name])
    if not found and chosen is None:
        found = _with_scenes(root, [d for d in definitions if d.name != default.name and d.has_ground_truth])
    if len(found) > 1:
        raise RealBenchError(f"several benchmark folders below this one ({', '.join(str(f) for f, _ in found)}); "
                             "pass one of them", path=str(root))
    if found:
        return _scene_children(found[0][0], found[0][1].layout), found[0][1]
    others = _with_scenes(root, [d for d in definitions if not d.has_ground_truth])
    hint = "".join(f"; for the {d.name} benchmark ({d.description}) pass --data {folder}"
                   for folder, d in others[:2])
    raise RealBenchError(
        f"no scenes found: expected {default.layout.describe()} here or in a {default.folder or 'benchmark'}/ "
        f"folder below{hint}", path=str(root))


def _scene_files(folder: Path, layout: SceneLayout, require_gt: bool) -> dict[str, Path | None]:
    scene_id, files = folder.name, {}
    for role in ("target", "mask", "gt"):
        rel = PurePosixPath(getattr(layout, role))
        found = _find(folder / rel.parent, rel.name, scene_id)
        if found is None and (role != "gt" or require_gt):
            raise RealBenchError(f"{role} image is missing", scene=scene_id, path=str(folder / f"{rel}.png"))
        files[role] = found
    return files


def _reference_files(folder: Path, layout: SceneLayout) -> list[Path]:
    scene_id, ref_dir = folder.name, folder / layout.refs
    if not ref_dir.is_dir():
        raise RealBenchError(f"{layout.refs}/ folder is missing (no reference images)", scene=scene_id,
                             path=str(ref_dir))
    try:
        ref_paths = [p for p in list_images(ref_dir) if not any(fnmatch.fnmatch(p.name, g) for g in layout.ignore)]
    except OSError as exc:
        raise RealBenchError(f"cannot read folder ({exc.strerror or exc})", scene=scene_id, path=str(ref_dir)) from None
    if not ref_paths:
        raise RealBenchError(f"no reference images (.png/.jpg) in {layout.refs}/", scene=scene_id, path=str(ref_dir))
    _check_file_names(ref_paths, scene_id)
    return ref_paths


def _check_file_names(paths: list[Path], scene_id: str) -> None:
    """Names that can be recorded (UTF-8, as scene ids must be) and that are told apart when
    printed: two that differ only in Unicode normal form (NFC/NFD) or case are refused."""
    seen: dict[str, Path] = {}
    for path in paths:
        shown = printable(path.name)  # an undecodable byte shows as its escape, as in scene ids
        if not is_utf8(path.name):
            raise RealBenchError(f"file name '{shown}' is not valid UTF-8 text, so it cannot be recorded; rename it",
                                 scene=scene_id, path=printable(str(path)))
        key = name_key(path.name)
        if key in seen:
            raise RealBenchError(f"two files whose names print alike ('{printable(seen[key].name)}' and '{shown}': "
                                 "they differ only in case or Unicode normal form); rename one", scene=scene_id,
                                 path=str(path.parent))
        seen[key] = path


def load_scene_dir(folder: Path, task: str | None = None, require_gt: bool = True,
                   max_refs: int | None = None, layout: SceneLayout = RELEASE_LAYOUT,
                   task_file: str | None = None) -> Scene:
    """Load and validate one scene folder laid out as ``layout`` says (RealFill's release by default);
    a declared ``task`` (from ``task_file``, the manifest) must agree with the mask."""
    scene_id = folder.name
    files = _scene_files(folder, layout, require_gt)
    ref_paths = _reference_files(folder, layout)
    if max_refs is not None and len(ref_paths) > max_refs:
        warnings.warn(
            f"scene '{scene_id}' has {len(ref_paths)} references; the benchmark has at most {max_refs}",
            RealBenchWarning,
            stacklevel=2,
        )

    target = read_rgb(cast(Path, files["target"]), scene_id)  # required: _scene_files checked them
    mask = read_mask(cast(Path, files["mask"]), scene_id)
    gt = read_rgb(files["gt"], scene_id) if files["gt"] is not None else None
    refs = [read_rgb(p, scene_id) for p in ref_paths]
    validate_arrays(scene_id, target, mask, gt, files)
    source = {
        "folder": str(folder),
        "files": {
            str(p.relative_to(folder)): sha256_file(p, scene_id)
            for p in [*ref_paths, *[f for f in files.values() if f is not None]]
        },
    }
    scene_task = declared_task(task, mask, scene_id, task_file or str(files["mask"]))
    return Scene(scene_id, scene_task, tuple(refs), target, mask, gt, source)


def load_folder(root: str | os.PathLike, scenes: Iterable[str] | None = None, require_gt: bool = True,
                located: tuple[list[Path], BenchmarkDefinition] | None = None) -> list[Scene]:
    """Scenes of a release-layout folder, as its benchmark definition says: a generation-only
    benchmark (RealFill's ``Qualitative``) loads without ground truth; elsewhere ``require_gt``."""
    root = Path(root)
    scene_dirs, definition = located or locate(root)
    require_gt = require_gt and definition.has_ground_truth
    manifest_root = scene_dirs[0].parent
    tasks = _read_manifest(manifest_root)
    by_id = _scene_ids(scene_dirs)
    wanted = list(scenes) if scenes is not None else sorted(by_id, key=definition.sort_key)
    for scene_id in wanted:
        if scene_id not in by_id:
            raise RealBenchError(unknown_scene_message(scene_id, list(by_id), str(root)))
    manifest = str(manifest_root / MANIFEST)
    return [load_scene_dir(by_id[s], tasks.get(s), require_gt, definition.max_refs, definition.layout, manifest)
            for s in wanted]


def _scene_ids(scene_dirs: list[Path]) -> dict[str, Path]:
    """Scene folders by id; two ids that print alike (NFC and NFD ``café``) or differ only in case
    are one scene to a reader and on a case-insensitive disk, so they are refused."""
    by_id: dict[str, Path] = {}
    keys: dict[str, str] = {}
    for folder in scene_dirs:
        scene_id = check_name(folder.name, "scene id", path=str(folder))
        key = name_key(scene_id)
        if key in keys:
            raise RealBenchError(f"two scene folders whose ids print alike ('{printable(keys[key])}' and "
                                 f"'{printable(scene_id)}': they differ only in case or Unicode normal form); "
                                 "rename one", scene=printable(scene_id), path=str(folder.parent))
        keys[key] = scene_id
        by_id[scene_id] = folder
    return by_id


def _is_saved_dataset(path: Path) -> bool:
    if any((path / name).is_file() for name in ("state.json", "dataset_dict.json", "dataset_info.json")):
        return True
    return is_parquet_folder(path)


def _from_folder(root: Path, spec: str, kind: str, scenes, require_gt: bool, note: str = "",
                 name: str | None = None, benchmark: str | None = None) -> Benchmark:
    # the caller may say which benchmark (protocol and layout), whatever the folder is called
    located = locate(root, get_definition(benchmark) if benchmark is not None else None)
    scene_dirs, definition = located
    if name is None:
        name = root.resolve().name if scene_dirs == [root] else scene_dirs[0].parent.resolve().name
    return Benchmark(name, spec, kind, load_folder(root, scenes, require_gt, located), note, definition)


def split_of(bench: Benchmark, split: str, named: bool = False) -> Benchmark:
    """The scenes of one of the benchmark's splits (``all``, or a task such as ``outpaint``);
    ``named``: the scenes were asked for by id, so one outside the split is an error, not dropped."""
    if split == "all":
        return bench
    if split not in bench.definition.splits or split not in TASKS:
        raise RealBenchError(f"unknown split '{printable(split)}' (benchmark '{bench.definition.name}' has: "
                             f"{', '.join(bench.definition.splits)})", path=bench.spec)
    chosen = [s for s in bench if s.task == split]
    outside = [s.id for s in bench if s.task != split]
    if named and outside:
        raise RealBenchError(f"scene '{printable(outside[0])}' is not in split '{split}' (it is "
                             f"{bench[outside[0]].task}); leave it out of --scenes or leave --split out",
                             path=bench.spec)
    if not chosen:
        raise RealBenchError(f"no scene of split '{split}' among the {count(len(bench), 'scene')} chosen",
                             path=bench.spec)
    return bench.subset(chosen)


def looks_like_path(spec: str) -> bool:
    """Whether ``spec`` names a local file or folder rather than a hub id (``owner/name``): it
    starts like a path, has more or fewer parts than a hub id, ends like a file, is no valid id,
    or its first part is a folder here (``data/RealBench`` in a checkout with a ``data/``)."""
    if spec.startswith((".", "/", "~")) or "\\" in spec or spec.lower().endswith((".zip", ".parquet", ".arrow")):
        return True
    parts = spec.split("/")
    return len(parts) != 2 or not is_hub_id(spec) or expand_user(parts[0]).exists()


def _missing_path(spec: str) -> RealBenchError:
    path = expand_user(spec)
    existing = next((p for p in path.parents if p.exists()), Path("."))
    siblings = []
    if existing.is_dir():
        try:
            siblings = [p.name for p in existing.iterdir() if not p.name.startswith(".")][:200]
        except OSError:
            siblings = []
    close = difflib.get_close_matches(path.parts[len(existing.parts)] if len(path.parts) > len(existing.parts)
                                      else path.name, siblings, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(str(existing / c)) for c in close)}?" if close else ""
    return RealBenchError(f"no folder or file here (the nearest existing folder is '{printable(str(existing))}'{hint})",
                          path=printable(spec))


def load_benchmark(spec: str | os.PathLike = "sample", scenes: Iterable[str] | str | None = None,
                   require_gt: bool = True, split: str | None = None, benchmark: str | None = None,
                   archive_limits: ArchiveLimits | str | None = None) -> Benchmark:
    """Load a benchmark from ``"sample"``, the release zip or any folder of the release layout,
    a saved or parquet dataset folder, or a hub dataset id.

    ``split`` picks one of the benchmark's splits (``outpaint``, ``inpaint``, ``all``), or for a
    dataset with several splits of its own, that dataset split. The protocol (``realbench
    benchmarks``) follows from the folder's name or a dataset's card (RealBench otherwise);
    ``benchmark`` names it explicitly; ``archive_limits`` bounds what a zip may unpack to
    (``ArchiveLimits``, or ``"bytes=40G,entries=200000,ratio=500"``)."""
    chosen = get_definition(benchmark) if benchmark is not None else None  # an unknown name fails first
    limits = archive_limits if isinstance(archive_limits, ArchiveLimits) else ArchiveLimits.parse(archive_limits)
    scenes = [scenes] if isinstance(scenes, str) else (list(scenes) if scenes is not None else None)
    if scenes is not None and not scenes:
        raise RealBenchError("the scene list names no scene (leave --scenes out for all of them)", path=str(spec))
    spec = str(spec)
    check_utf8_path(spec, "--data")
    task_split = split if split is not None and split in (*TASKS, "all") else None
    bench = _load(spec, scenes, require_gt, None if task_split else split, benchmark, chosen, limits)
    if not bench.scenes:
        raise RealBenchError("the data holds no scenes", path=spec)
    check_utf8_path(bench.name, "the data folder's name")
    return split_of(bench, task_split, named=scenes is not None) if task_split else bench


def _load(spec: str, scenes, require_gt: bool, split: str | None, benchmark: str | None, chosen,
          limits: ArchiveLimits) -> Benchmark:
    path = expand_user(spec)
    if split is not None and not (path.is_dir() and _is_saved_dataset(path)) and (spec == "sample" or path.exists()):
        definition = chosen or get_definition()
        raise RealBenchError(f"unknown split '{printable(split)}' (benchmark '{definition.name}' has: "
                             f"{', '.join(definition.splits)})", path=spec)
    if spec == "sample":
        return _from_folder(ensure_sample(), spec, "sample", scenes, require_gt, name="sample", benchmark=benchmark)
    path = expand_user(spec)
    if path.is_file() and path.suffix.lower() == ".zip":
        root, note = unpack_archive(path, limits)
        return _from_folder(root, spec, "folder", scenes, require_gt, note, benchmark=benchmark)
    if path.exists():
        if path.is_dir() and _is_saved_dataset(path):
            definition = chosen or get_definition(card_benchmark(path))
            return Benchmark(path.name, spec, "hf", load_saved_dataset(path, scenes, require_gt, split),
                             definition=definition)
        return _from_folder(path, spec, "folder", scenes, require_gt, benchmark=benchmark)
    if looks_like_path(spec):
        raise _missing_path(spec)
    return Benchmark(spec.split("/")[1], spec, "hf", load_hub_dataset(spec, scenes, require_gt, split),
                     definition=chosen or get_definition())
