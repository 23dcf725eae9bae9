"""``load_benchmark(spec)``: one entry point for the three data sources.

``spec`` is ``"sample"`` (the built-in benchmark), a folder in the RealBench release layout, a
folder written by ``datasets.Dataset.save_to_disk`` or a Hugging Face hub dataset id.
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

from .errors import RealBenchError
from .imageio import IMAGE_SUFFIXES, list_images, read_mask, read_rgb
from .scene import TASKS, Scene, infer_task

MAX_REFS = 5


class RealBenchWarning(UserWarning):
    """Something unusual but usable in the input (e.g. more than five references)."""


@dataclass
class Benchmark:
    """An ordered collection of scenes plus where they came from."""

    name: str
    spec: str
    kind: str  # "sample" | "folder" | "hf"
    scenes: list[Scene] = field(default_factory=list)

    def __iter__(self) -> Iterator[Scene]:
        return iter(self.scenes)

    def __len__(self) -> int:
        return len(self.scenes)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.scenes]

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
        return sorted(folder.iterdir())
    except OSError as exc:
        raise RealBenchError(f"cannot read folder ({exc.strerror or exc})", path=str(folder)) from None


def find_scene_dirs(root: Path) -> list[Path]:
    """Scene folders under ``root``; a ``RealBench/`` level in between is found automatically."""
    if not root.exists():
        raise RealBenchError("data folder does not exist", path=str(root))
    if not root.is_dir():
        raise RealBenchError("data path is not a folder", path=str(root))
    if (root / "RealBench").is_dir():
        root = root / "RealBench"
    if (root / "target").is_dir():  # a single scene folder
        return [root]
    scene_dirs = [
        p for p in _iterdir(root)
        if p.is_dir() and not p.name.startswith(".") and ((p / "target").exists() or (p / "ref").exists())
    ]
    if not scene_dirs:
        raise RealBenchError(
            "no scenes found: expected <scene>/ref/* and <scene>/target/{target,mask,gt}.png", path=str(root)
        )
    return scene_dirs


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
    root = Path(root)
    scene_dirs = find_scene_dirs(root)
    manifest_root = scene_dirs[0].parent
    tasks = _read_manifest(manifest_root)
    by_id = {d.name: d for d in scene_dirs}
    wanted = list(scenes) if scenes is not None else list(by_id)
    for scene_id in wanted:
        if scene_id not in by_id:
            raise RealBenchError(unknown_scene_message(scene_id, list(by_id), str(root)))
    return [load_scene_dir(by_id[s], tasks.get(s), require_gt) for s in wanted]


def _is_saved_dataset(path: Path) -> bool:
    return any((path / name).is_file() for name in ("state.json", "dataset_dict.json", "dataset_info.json"))


def load_benchmark(spec: str | os.PathLike = "sample", scenes: Iterable[str] | None = None,
                   require_gt: bool = True) -> Benchmark:
    """Load a benchmark from ``"sample"``, a release-layout folder, a saved dataset or a hub id."""
    spec = str(spec)
    scenes = list(scenes) if scenes is not None else None
    if spec == "sample":
        from .sample_data import ensure_sample

        root = ensure_sample()
        return Benchmark("sample", spec, "sample", load_folder(root, scenes, require_gt))
    path = Path(spec).expanduser()
    if path.exists():
        if path.is_dir() and _is_saved_dataset(path):
            from .hfdata import load_saved_dataset

            return Benchmark(path.name, spec, "hf", load_saved_dataset(path, scenes, require_gt))
        name = path.resolve().name
        return Benchmark(name, spec, "folder", load_folder(path, scenes, require_gt))
    if "/" in spec and not spec.startswith((".", "/", "~")) and spec.count("/") == 1:
        from .hfdata import load_hub_dataset

        return Benchmark(spec.split("/")[1], spec, "hf", load_hub_dataset(spec, scenes, require_gt))
    raise RealBenchError(
        "data not found: give 'sample', a folder in the RealBench layout, a saved dataset folder "
        "or a Hugging Face dataset id",
        path=spec,
    )
