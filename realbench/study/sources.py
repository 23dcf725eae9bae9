"""Everything a study reads from recorded runs, in one place: a run's identity and samples
(``realbench.summarise.runview``), its scenes (``realbench.data.loading``) and a sample's pixels, checked against
what the run recorded. The rest of ``realbench.study`` sees only ``RunSource`` and ``RecordedSample``.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realbench.core.errors import RealBenchError
from realbench.core.imageio import read_rgb
from realbench.core.paths import check_name, inside, printable
from realbench.core.scene import Scene
from realbench.data.loading import load_benchmark
from realbench.summarise.runview import read_run


@dataclass(frozen=True)
class RecordedSample:
    scene: str
    sample: int
    seed: int | None
    image: str  # the record's path, relative to the run folder (checked before use)
    digest: str | None  # the record's image hash


@dataclass(frozen=True)
class RunSource:
    path: Path
    label: str
    method: str
    config_hash: str
    data_name: str
    data_spec: str
    data_checksum: str
    ground_truth: bool
    max_refs: int | None
    samples: dict[str, tuple[RecordedSample, ...]]  # scene id -> its samples, by sample index
    scene_checksums: dict[str, str]

    @property
    def scenes(self) -> list[str]:
        return list(self.samples)

    def identity(self) -> dict[str, Any]:
        return {"path": str(self.path), "label": self.label, "method": self.method, "config_hash": self.config_hash,
                "data": self.data_name, "data_checksum": self.data_checksum, "scenes": len(self.samples)}


def _field(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a record or of ``run.json``, typed (attribute) or plain (mapping)."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def read_source(run: Any) -> RunSource:
    """A run folder's identity and latest samples per scene."""
    view = read_run(run)
    data = _field(view.meta, "data") or {}
    samples: dict[str, list[RecordedSample]] = {}
    checksums: dict[str, str] = {}
    where = str(Path(view.path) / "records.jsonl")
    for record in view.raw:
        scene = check_name(str(_field(record, "scene")), "scene id", path=where)
        image, sample, seed = _field(record, "image"), _field(record, "sample"), _field(record, "seed")
        if not isinstance(image, str) or isinstance(sample, bool) or not isinstance(sample, int):
            raise RealBenchError("a record names no image or sample index", scene=scene, path=where)
        if _field(_field(record, "info") or {}, "canvas") == "blank":
            raise RealBenchError(f"run '{printable(view.label)}' made scene variants from a blank canvas (Fig. 11, "
                                 "sample.canvas=blank): its images complete no target, and a study compares "
                                 "completions of the target", scene=scene, path=where)
        samples.setdefault(scene, []).append(RecordedSample(
            scene, sample, seed if isinstance(seed, int) else None, image, str(_field(record, "image_sha256") or "")))
        checksums[scene] = str(_field(record, "scene_checksum") or "")
    if not samples:
        raise RealBenchError("the run recorded no samples", path=str(view.path))
    ordered = {scene: tuple(sorted(samples[scene], key=lambda s: s.sample)) for scene in view.scenes}
    max_refs = _field(view.meta, "max_refs")
    return RunSource(Path(view.path), str(view.label), str(view.method), str(view.config_hash),
                     str(_field(data, "name", "?")), str(_field(data, "spec", "") or ""), str(view.checksum),
                     bool(_field(data, "ground_truth", True)), int(max_refs) if max_refs else None, ordered, checksums)


def load_scenes(source: RunSource, ids: Iterable[str], spec: str | None = None) -> dict[str, Scene]:
    """The scenes ``ids`` of the data ``source`` ran on (``spec``: where that data is now, if it moved),
    with the run's reference limit, each checked against the content the run recorded."""
    ids = list(ids)
    where = spec or source.data_spec
    if not where:
        raise RealBenchError(f"run '{printable(source.label)}' does not say where its data is; pass --data "
                             f"{source.data_name}=PATH", path=str(source.path))
    bench = load_benchmark(where, ids, require_gt=False)
    scenes = {}
    for scene in bench:
        if source.max_refs:
            scene = scene.with_refs(list(scene.refs[:source.max_refs]))
        recorded = source.scene_checksums.get(scene.id)
        if recorded and scene.checksum != recorded:
            raise RealBenchError(
                f"the scene's content differs from what run '{printable(source.label)}' scored (checksum "
                f"{scene.checksum} here, {recorded} recorded); point --data {source.data_name}=PATH at the data the "
                "run used", scene=scene.id, path=str(where))
        scenes[scene.id] = scene
    return scenes


def read_sample(source: RunSource, sample: RecordedSample, size: tuple[int, int]) -> np.ndarray:
    """A recorded sample's pixels: the path stays inside the run folder, the image is the one the
    run recorded (its hash) and has the scene's size."""
    path = inside(source.path, sample.image, "record image path")
    where = str(path)
    if not path.is_file():
        raise RealBenchError("the recorded image is missing", scene=sample.scene, path=where)
    pixels = read_rgb(path, sample.scene)
    if sample.digest and not _matches(sample.digest, pixels, path):
        raise RealBenchError("the image changed after the run recorded it (its hash differs)", scene=sample.scene,
                             path=where)
    if pixels.shape[:2] != tuple(size):
        raise RealBenchError(f"the image is {pixels.shape[1]}x{pixels.shape[0]} but the scene is {size[1]}x{size[0]}",
                             scene=sample.scene, path=where)
    return pixels


def _matches(digest: str, pixels: np.ndarray, path: Path) -> bool:
    """Runs hash the pixels (a prefix of SHA-256); a hash of the file's bytes is accepted too."""
    digest = digest.lower()
    if hashlib.sha256(pixels.tobytes()).hexdigest().startswith(digest):
        return True
    return hashlib.sha256(path.read_bytes()).hexdigest().startswith(digest)
