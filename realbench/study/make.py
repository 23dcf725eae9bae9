"""``realbench study make``: a study folder from recorded runs.

Runs sharing a label are one method over the union of their scenes (e.g. a RealBench run and a
generation-only Qualitative run of RealFill); every scene must be covered by every method. The
folder is built beside ``out`` under a temporary name and renamed when complete, so a study is
never half-written:

    STUDY/study.yaml      what participants read (editable)
    STUDY/manifest.json   design, runs, scenes and which image id is which sample (server-side)
    STUDY/images/<id>.jpg every picture, under a random id, options of a scene padded to one size
"""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realbench.core.errors import RealBenchError
from realbench.core.files import FOLDER_MODE
from realbench.core.paths import check_out, printable
from realbench.core.provenance import config_hash, git_hash, versions
from realbench.core.scene import Scene, natural_key, scenes_checksum
from realbench.study import images as pictures

from .config import CONFIG_FILE, StudyConfig, StudyDesign, config_from_dict, write_config
from .manifest import (
    GROUND_TRUTH,
    Manifest,
    Sample,
    StoredImage,
    StudyMethod,
    StudyScene,
    write_manifest,
)
from .plan import Draws
from .sources import RunSource, load_scenes, read_sample, read_source

IMAGES = "images"


@dataclass
class MethodRuns:
    """One method of the study: the runs with its label, and which run holds which scene."""

    key: str
    display: str
    sources: list[RunSource]
    by_scene: dict[tuple[str, str], RunSource]  # (data, scene id) -> the run that holds it


def make_study(runs: Sequence[Any], out: str | os.PathLike, *, names: Mapping[str, str] | None = None,
               design: StudyDesign | None = None, drop_incomplete: bool = False,
               data: Mapping[str, str] | None = None, config: StudyConfig | Mapping[str, Any] | None = None,
               progress: bool = False) -> Path:
    """Build a study from run folders (``names``: label -> display name in the analysis; ``data``:
    data name -> where that data is now, if it moved). Returns the study folder."""
    out = Path(out)
    design = design or StudyDesign()
    _check_empty(out)
    methods = _methods([read_source(run) for run in runs], dict(names or {}), design)
    keys, dropped = _scenes(methods, design, drop_incomplete)
    config = _config(config)
    staging = out.parent / f".{out.name}.tmp-{secrets.token_hex(4)}"
    out.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    staging.mkdir(mode=FOLDER_MODE)
    try:
        (staging / IMAGES).mkdir(mode=FOLDER_MODE)
        manifest = _build(staging, methods, keys, dropped, design, dict(data or {}), progress)
        write_manifest(staging, manifest)
        write_config(staging / CONFIG_FILE, config)
        if out.is_dir():
            out.rmdir()  # empty (checked): the rename takes its place
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _check_empty(out: Path) -> None:
    check_out(out)
    if out.is_symlink():
        raise RealBenchError("--out is a symbolic link; give a plain folder", path=str(out))
    if out.is_dir() and any(out.iterdir()):
        raise RealBenchError("--out exists and is not empty; give a new folder (a study is never overwritten)",
                             path=str(out))


def _config(config: StudyConfig | Mapping[str, Any] | None) -> StudyConfig:
    """The texts to start from, checked; a random completion code unless one is given."""
    raw = _as_raw(config) if isinstance(config, StudyConfig) else dict(config or {})
    if not raw.get("completion_code") and not (isinstance(config, Mapping) and "completion_code" in config):
        raw["completion_code"] = secrets.token_hex(4).upper()
    return config_from_dict(raw, "--config")


def _as_raw(config: StudyConfig) -> dict[str, Any]:
    data = asdict(config)
    data["questions"] = [asdict(q) for q in config.questions]
    return data


def _methods(sources: list[RunSource], names: dict[str, str], design: StudyDesign) -> list[MethodRuns]:
    """Runs grouped by label, display names applied, counts checked."""
    if not sources:
        raise RealBenchError("give at least one run folder")
    methods: dict[str, MethodRuns] = {}
    for source in sources:
        method = methods.setdefault(source.label, MethodRuns(source.label, source.label, [], {}))
        for scene in source.scenes:
            key = (source.data_name, scene)
            if key in method.by_scene:
                raise RealBenchError(f"runs {method.by_scene[key].path} and {source.path} both hold scene "
                                     f"'{printable(scene)}' of data '{printable(source.data_name)}' for method "
                                     f"'{printable(source.label)}'; give one of them (or relabel one with --label)")
            method.by_scene[key] = source
        method.sources.append(source)
    unknown = sorted(set(names) - set(methods))
    if unknown:
        raise RealBenchError(f"--name for unknown label(s) {', '.join(map(printable, unknown))} (the runs' labels: "
                             f"{', '.join(map(printable, methods))})")
    for label, display in names.items():
        if not display.strip() or len(display) > 200:
            raise RealBenchError(f"--name {printable(label)}=...: the display name must be 1-200 characters")
        methods[label].display = display
    if len({m.display for m in methods.values()}) < len(methods):
        raise RealBenchError("two methods have the same display name; give each its own with --name LABEL=NAME")
    if design.kind == "versus-ground-truth" and len(methods) != 1:
        raise RealBenchError(f"a study against the ground truth compares one method with it; the runs have "
                             f"{len(methods)} labels ({', '.join(map(printable, methods))})")
    if design.kind == "methods" and len(methods) < 2:
        raise RealBenchError(f"a study compares at least two methods; the runs have one label "
                             f"('{printable(next(iter(methods)))}'); runs of one method against the ground truth "
                             "take --versus-ground-truth")
    return list(methods.values())


def _scenes(methods: list[MethodRuns], design: StudyDesign,
            drop_incomplete: bool) -> tuple[list[tuple[str, str]], list]:
    """The scenes every method covers (a clear error, or the dropped list, for the others)."""
    union = sorted({key for m in methods for key in m.by_scene}, key=_scene_sort)
    dropped: list[dict[str, Any]] = []
    keys = []
    for key in union:
        missing = [m.key for m in methods if key not in m.by_scene]
        if missing:
            dropped.append({"scene": "/".join(key), "reason": f"no samples of {', '.join(missing)}"})
        else:
            keys.append(key)
    if dropped and not drop_incomplete:
        listing = "; ".join(f"{printable(d['scene'])}: {printable(d['reason'])}" for d in dropped[:20])
        more = f" (and {len(dropped) - 20} more)" if len(dropped) > 20 else ""
        raise RealBenchError(f"every method must cover every scene; missing: {listing}{more}. Add the missing runs, "
                             "or pass --drop-incomplete to leave those scenes out (recorded in the study)")
    if design.kind == "versus-ground-truth":
        without = [k for k in keys if not methods[0].by_scene[k].ground_truth]
        dropped += [{"scene": "/".join(k), "reason": "no ground truth"} for k in without]
        keys = [k for k in keys if k not in without]
    if not keys:
        raise RealBenchError("no scene is left for the study" + ("" if design.kind == "methods" else
                                                                 " (none of the runs' data has ground truth)"))
    return keys, dropped


def _scene_sort(key: tuple[str, str]) -> tuple:
    return (key[0], natural_key(key[1]))


def _build(folder: Path, methods: list[MethodRuns], keys: list[tuple[str, str]], dropped: list, design: StudyDesign,
           data: dict[str, str], progress: bool) -> Manifest:
    known_data = {s.data_name for m in methods for s in m.sources}
    unknown = sorted(set(data) - known_data)
    if unknown:
        raise RealBenchError(f"--data for unknown data name(s) {', '.join(map(printable, unknown))} (the runs' "
                             f"data: {', '.join(map(printable, sorted(known_data)))})")
    any_truth = any(methods[0].by_scene[key].ground_truth for key in keys)
    images: dict[str, StoredImage] = {}
    scenes = []
    for key in _progress(keys, progress):
        scene = _load_scene(methods, key, data)  # one scene in memory at a time
        scenes.append(_store_scene(folder, methods, key, scene, design, images, fallback=not any_truth))
    any_truth = any(s.ground_truth for s in scenes)
    return Manifest(
        study_id=_study_id(design, methods, scenes), created=_now(), design=design,
        methods=tuple(StudyMethod(m.key, m.display, tuple(s.identity() for s in m.sources)) for m in methods),
        data=_data_identity(methods, scenes), scenes=tuple(scenes), images=images, dropped=tuple(dropped),
        attention_reference=GROUND_TRUTH if any_truth else "method output",
        provenance={"versions": versions(), "git": git_hash()})


def _load_scene(methods: list[MethodRuns], key: tuple[str, str], data: dict[str, str]) -> Scene:
    """The scene from the first method's data, checked against what every other method's run scored."""
    data_name, scene_id = key
    first = methods[0].by_scene[key]
    scene = load_scenes(first, [scene_id], data.get(data_name))[scene_id]
    for method in methods[1:]:
        other = method.by_scene[key]
        recorded = other.scene_checksums.get(scene_id)
        if recorded and recorded != scene.checksum:
            raise RealBenchError(f"runs {first.path} and {other.path} scored different content for this scene "
                                 f"(scene checksums {scene.checksum} and {recorded}: other data, or another "
                                 "--max-refs)", scene=scene_id)
    return scene


def _store_scene(folder: Path, methods: list[MethodRuns], key: tuple[str, str], scene: Scene, design: StudyDesign,
                 images: dict[str, StoredImage], fallback: bool) -> StudyScene:
    """Encode a scene's pictures; its options (every sample, the ground truth, the broken fills)
    padded to one byte length."""
    study_key = "/".join(key)
    def encode(pixels: np.ndarray) -> bytes:
        return pictures.encode(pictures.resized(pixels, design.max_side), design.image_format, design.quality)

    options: list[bytes] = []
    pools: dict[str, list[tuple[int, int, int | None]]] = {}
    for method in methods:
        source = method.by_scene[key]
        recorded = Draws(design.seed, "pool", study_key, method.key).shuffled(source.samples[key[1]])
        for sample in sorted(recorded[:design.pool], key=lambda s: s.sample):
            options.append(encode(read_sample(source, sample, scene.size)))
            pools.setdefault(method.key, []).append((len(options) - 1, sample.sample, sample.seed))
    truth = len(options) if scene.gt is not None else None
    if scene.gt is not None:
        options.append(encode(scene.gt))
    broken_from = len(options)
    if design.attention_rate > 0 and (scene.gt is not None or fallback):
        base = scene.gt if scene.gt is not None else np.asarray(scene.target)
        wrong = (len(methods) if design.kind == "methods" else 2) - 1
        options += [encode(pictures.broken_fill(base, scene.mask, k, design.seed)) for k in range(wrong)]
    size = pictures.padded_size([len(b) for b in options])
    ids = [_write(folder, pictures.pad(b, size), design, images) for b in options]
    target = _write(folder, encode(pictures.gray_target(scene.target, scene.mask)), design, images)
    references = tuple(_write(folder, encode(ref), design, images) for ref in scene.refs)
    samples = {m: tuple(Sample(ids[i], _run_index(methods, m, key), n, seed) for i, n, seed in pool)
               for m, pool in pools.items()}
    return StudyScene(study_key, key[0], key[1], scene.task, scene.checksum, target, references,
                      ids[truth] if truth is not None else None, tuple(ids[broken_from:]), samples)


def _run_index(methods: list[MethodRuns], key: str, scene: tuple[str, str]) -> int:
    method = next(m for m in methods if m.key == key)
    return method.sources.index(method.by_scene[scene])


def _write(folder: Path, data: bytes, design: StudyDesign, images: dict[str, StoredImage]) -> str:
    """Store bytes under a fresh random id (nothing about the picture is in its name)."""
    image_id = secrets.token_hex(12)
    extension = "jpg" if design.image_format == "jpeg" else "png"
    rel = f"{IMAGES}/{image_id}.{extension}"
    (folder / rel).write_bytes(data)
    images[image_id] = StoredImage(rel, f"image/{design.image_format}", len(data), hashlib.sha256(data).hexdigest())
    return image_id


def _study_id(design: StudyDesign, methods: list[MethodRuns], scenes: list[StudyScene]) -> str:
    """A hash of what the study shows: design, runs and the samples kept per scene (not the random ids)."""
    return config_hash({
        "design": design.to_dict(),
        "methods": [[m.key, m.display, [[s.label, s.config_hash, s.data_checksum] for s in m.sources]]
                    for m in methods],
        "scenes": [[s.key, s.checksum, {k: [x.sample for x in v] for k, v in sorted(s.samples.items())}]
                   for s in scenes]})


def _data_identity(methods: list[MethodRuns], scenes: list[StudyScene]) -> tuple[dict[str, Any], ...]:
    out = []
    for name in sorted({s.data_name for m in methods for s in m.sources}):
        runs = [s for m in methods for s in m.sources if s.data_name == name]
        mine = [s for s in scenes if s.data == name]
        out.append({"name": name, "spec": runs[0].data_spec, "ground_truth": runs[0].ground_truth,
                    "scenes": len(mine), "checksum": scenes_checksum((s.id, s.checksum) for s in mine),
                    "run_checksums": sorted({s.data_checksum for s in runs})})
    return tuple(out)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _progress(items: list, enabled: bool) -> Any:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="study: scenes", unit="scene", leave=False)
