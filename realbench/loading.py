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
import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .download import is_mac_junk
from .errors import RealBenchError, RealBenchWarning
from .imageio import IMAGE_SUFFIXES, list_images, read_mask, read_rgb
from .paths import check_name
from .scene import TASKS, Scene, infer_task, natural_key

MAX_REFS = 5
GENERATION_ONLY = "Qualitative"  # the release's second folder: scenes without ground truth


@dataclass
class Benchmark:
    """An ordered collection of scenes plus where they came from."""

    name: str
    spec: str
    kind: str  # "sample" | "folder" | "hf"
    scenes: list[Scene] = field(default_factory=list)
    note: str = ""  # how the data was reached (e.g. an archive unpacked into the cache)

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
                f"{len(self.scenes) - outpaint} inpaint, from {self.spec!r})")

    def __getitem__(self, scene_id: str | int) -> Scene:
        """By scene id, or by position (``bench[0]``) as a notebook user would expect."""
        if isinstance(scene_id, int):
            return self.scenes[scene_id]
        for scene in self.scenes:
            if scene.id == scene_id:
                return scene
        raise RealBenchError(unknown_scene_message(scene_id, self.ids, self.spec))


def unknown_scene_message(scene_id: str, known: list[str], spec: str) -> str:
    close = difflib.get_close_matches(scene_id, known, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown scene id '{scene_id}' in data '{spec}'.{hint} Known: {', '.join(known)}."


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def _read_manifest(root: Path) -> dict[str, str]:
    """Optional ``manifest.json``: ``{"scenes": {"id": {"task": ...}}}`` or ``{"id": "task"}``."""
    path = root / "manifest.json"
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RealBenchError(f"cannot parse manifest ({exc})", path=str(path)) from None
    entries = raw.get("scenes", raw) if isinstance(raw, dict) else {}
    tasks = {}
    for scene_id, value in entries.items():
        task = value.get("task") if isinstance(value, dict) else value
        if task is None:
            continue
        if task not in TASKS:
            raise RealBenchError(f"task '{task}' must be one of {TASKS}", scene=scene_id, path=str(path))
        tasks[scene_id] = task
    return tasks


def _iterdir(folder: Path) -> list[Path]:
    try:
        return sorted((p for p in folder.iterdir() if not is_mac_junk(p.name)), key=lambda p: natural_key(p.name))
    except OSError as exc:
        raise RealBenchError(f"cannot read folder ({exc.strerror or exc})", path=str(folder)) from None


def _scene_children(folder: Path) -> list[Path]:
    return [p for p in _iterdir(folder)
            if p.is_dir() and not p.name.startswith(".") and ((p / "target").is_dir() or (p / "ref").is_dir())]


def _find_named(root: Path, name: str, depth: int = 3) -> list[Path]:
    """Folders called ``name`` at most ``depth`` levels below ``root`` (macOS metadata skipped)."""
    found, level = [], [root]
    for _ in range(depth):
        level = [child for folder in level for child in _iterdir(folder)
                 if child.is_dir() and not child.name.startswith(".")]
        found += [folder for folder in level if folder.name == name]
    return found


def find_scene_dirs(root: Path) -> list[Path]:
    """Scene folders of the benchmark at ``root``: ``root`` itself, or the ``RealBench/`` folder
    found below it (the unzip root of the release, or any folder above ``RealBench/``)."""
    if not root.exists():
        raise RealBenchError("data folder does not exist", path=str(root))
    if not root.is_dir():
        raise RealBenchError("data path is not a folder (or a .zip archive)", path=str(root))
    if (root / "target").is_dir():  # a single scene folder
        return [root]
    scene_dirs = _scene_children(root)
    if scene_dirs:
        return scene_dirs
    candidates = _find_named(root, "RealBench")
    if len(candidates) > 1:
        raise RealBenchError(f"several RealBench/ folders below this one ({', '.join(map(str, candidates))}); "
                             "pass one of them", path=str(root))
    if candidates and _scene_children(candidates[0]):
        return _scene_children(candidates[0])
    others = [p for p in _find_named(root, "Qualitative") if _scene_children(p)]
    hint = f"; for the generation-only set pass --data {others[0]}" if others else ""
    raise RealBenchError(
        f"no scenes found: expected <scene>/ref/* and <scene>/target/{{target,mask,gt}}.png here or in a "
        f"RealBench/ folder below{hint}", path=str(root))


def load_scene_dir(folder: Path, task: str | None = None, require_gt: bool = True) -> Scene:
    """Load and validate one scene folder in the release layout."""
    scene_id = folder.name
    ref_dir, target_dir = folder / "ref", folder / "target"
    if not target_dir.is_dir():
        raise RealBenchError("target/ folder is missing", scene=scene_id, path=str(target_dir))
    files = {}
    for stem in ("target", "mask", "gt"):
        found = _find(target_dir, stem)
        if found is None and (stem != "gt" or require_gt):
            raise RealBenchError(f"{stem} image is missing", scene=scene_id, path=str(target_dir / f"{stem}.png"))
        files[stem] = found
    if not ref_dir.is_dir():
        raise RealBenchError("ref/ folder is missing (no reference images)", scene=scene_id, path=str(ref_dir))
    try:
        ref_paths = list_images(ref_dir)
    except OSError as exc:
        raise RealBenchError(f"cannot read folder ({exc.strerror or exc})", scene=scene_id, path=str(ref_dir)) from None
    if not ref_paths:
        raise RealBenchError("no reference images (.png/.jpg) in ref/", scene=scene_id, path=str(ref_dir))
    if len(ref_paths) > MAX_REFS:
        warnings.warn(
            f"scene '{scene_id}' has {len(ref_paths)} references; RealBench has at most {MAX_REFS}",
            RealBenchWarning,
            stacklevel=2,
        )

    target = read_rgb(files["target"], scene_id)
    mask = read_mask(files["mask"], scene_id)
    gt = read_rgb(files["gt"], scene_id) if files["gt"] is not None else None
    refs = [read_rgb(p, scene_id) for p in ref_paths]
    _validate(scene_id, target, mask, gt, files)
    source = {
        "folder": str(folder),
        "files": {
            str(p.relative_to(folder)): _sha256(p)
            for p in [*ref_paths, *[f for f in files.values() if f is not None]]
        },
    }
    return Scene(scene_id, task or infer_task(mask), tuple(refs), target, mask, gt, source)


def _validate(scene_id: str, target: np.ndarray, mask: np.ndarray, gt: np.ndarray | None, files: dict) -> None:
    if mask.shape != target.shape[:2]:
        raise RealBenchError(
            f"mask is {mask.shape[1]}x{mask.shape[0]} but target is {target.shape[1]}x{target.shape[0]}",
            scene=scene_id, path=str(files["mask"]),
        )
    if gt is not None and gt.shape != target.shape:
        raise RealBenchError(
            f"ground truth is {gt.shape[1]}x{gt.shape[0]} but target is {target.shape[1]}x{target.shape[0]}",
            scene=scene_id, path=str(files["gt"]),
        )
    if not mask.any():
        raise RealBenchError("mask is empty: no missing (white) pixels to fill", scene=scene_id, path=str(files["mask"]))
    if mask.all():
        raise RealBenchError("mask covers the whole image: no known pixels", scene=scene_id, path=str(files["mask"]))


def load_folder(root: str | os.PathLike, scenes: Iterable[str] | None = None, require_gt: bool = True) -> list[Scene]:
    """Scenes of a release-layout folder. RealFill's ``Qualitative`` set has no ground truth by
    design and loads without it; elsewhere ``require_gt`` applies."""
    root = Path(root)
    scene_dirs = find_scene_dirs(root)
    if scene_dirs[0].parent.name == GENERATION_ONLY and scene_dirs[0] != root:
        require_gt = False
    manifest_root = scene_dirs[0].parent
    tasks = _read_manifest(manifest_root)
    by_id = {check_name(d.name, "scene id", path=str(d)): d for d in scene_dirs}
    wanted = list(scenes) if scenes is not None else list(by_id)
    for scene_id in wanted:
        if scene_id not in by_id:
            raise RealBenchError(unknown_scene_message(scene_id, list(by_id), str(root)))
    return [load_scene_dir(by_id[s], tasks.get(s), require_gt) for s in wanted]


def _is_saved_dataset(path: Path) -> bool:
    if any((path / name).is_file() for name in ("state.json", "dataset_dict.json", "dataset_info.json")):
        return True
    from .hfdata import is_parquet_folder

    return is_parquet_folder(path)


def load_benchmark(spec: str | os.PathLike = "sample", scenes: Iterable[str] | str | None = None,
                   require_gt: bool = True, split: str | None = None) -> Benchmark:
    """Load a benchmark from ``"sample"``, the release zip or any folder of the release layout,
    a saved or parquet dataset folder, or a hub dataset id (``split`` picks a dataset's split)."""
    if isinstance(scenes, str):
        scenes = [scenes]
    spec = str(spec)
    scenes = list(scenes) if scenes is not None else None
    if spec == "sample":
        from .sample_data import ensure_sample

        root = ensure_sample()
        return Benchmark("sample", spec, "sample", load_folder(root, scenes, require_gt))
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() == ".zip":
        from .archive import unpack_archive

        root, note = unpack_archive(path)
        scene_dirs = find_scene_dirs(root)
        name = scene_dirs[0].parent.name if scene_dirs else path.stem
        return Benchmark(name, spec, "folder", load_folder(root, scenes, require_gt), note)
    if path.exists():
        if path.is_dir() and _is_saved_dataset(path):
            from .hfdata import load_saved_dataset

            return Benchmark(path.name, spec, "hf", load_saved_dataset(path, scenes, require_gt, split))
        scene_dirs = find_scene_dirs(path)
        name = path.resolve().name if scene_dirs == [path] else scene_dirs[0].parent.resolve().name
        return Benchmark(name, spec, "folder", load_folder(path, scenes, require_gt))
    if "/" in spec and not spec.startswith((".", "/", "~")) and spec.count("/") == 1:
        from .hfdata import load_hub_dataset

        return Benchmark(spec.split("/")[1], spec, "hf", load_hub_dataset(spec, scenes, require_gt, split))
    raise RealBenchError(
        "data not found: give 'sample', a folder in the RealBench layout, a saved dataset folder "
        "or a Hugging Face dataset id",
        path=spec,
    )
