"""RealBench as a Hugging Face ``datasets`` dataset: export, load from disk, load from the hub cache.

Images are stored as lossless PNG bytes, so a round trip is pixel-identical. Hub ids resolve
through the local cache first; with ``HF_HUB_OFFLINE=1`` nothing is fetched.
"""
from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

from .errors import RealBenchError
from .loading import _validate, unknown_scene_message
from .scene import Scene


def _png(array: np.ndarray) -> dict:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def _features():
    from datasets import Features, Image as HFImage, Sequence, Value

    return Features({
        "id": Value("string"),
        "task": Value("string"),
        "refs": Sequence(HFImage()),
        "target": HFImage(),
        "mask": HFImage(),
        "gt": HFImage(),
        "source": Value("string"),
    })


def export_benchmark(scenes: Iterable[Scene], to: str | Path) -> Path:
    """Write scenes as a ``save_to_disk`` dataset folder (atomically: a temp folder, then rename)."""
    from datasets import Dataset

    to = Path(to)
    if to.exists() and any(to.iterdir()):
        raise RealBenchError("export folder exists and is not empty", path=str(to))
    rows = {"id": [], "task": [], "refs": [], "target": [], "mask": [], "gt": [], "source": []}
    for scene in scenes:
        rows["id"].append(scene.id)
        rows["task"].append(scene.task)
        rows["refs"].append([_png(r) for r in scene.refs])
        rows["target"].append(_png(scene.target))
        rows["mask"].append(_png(scene.mask.astype(np.uint8) * 255))
        rows["gt"].append(_png(scene.gt) if scene.gt is not None else None)
        rows["source"].append(json.dumps(scene.source, sort_keys=True))
    dataset = Dataset.from_dict(rows, features=_features())
    to.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=to.parent, prefix=f".{to.name}."))
    try:
        dataset.save_to_disk(str(tmp))
        if to.exists():
            to.rmdir()
        tmp.rename(to)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return to


def _decode(value) -> np.ndarray | None:
    if value is None:
        return None
    image = value if isinstance(value, Image.Image) else Image.open(io.BytesIO(value["bytes"]))
    return np.asarray(image.convert("RGB")) if image.mode != "L" else np.asarray(image)


def _scenes_from_dataset(dataset, origin: str, scenes: Iterable[str] | None, require_gt: bool) -> list[Scene]:
    if "train" in getattr(dataset, "keys", lambda: [])():
        dataset = dataset["train"]
    missing = {"id", "refs", "target", "mask"} - set(dataset.column_names)
    if missing:
        raise RealBenchError(f"dataset lacks columns {sorted(missing)}", path=origin)
    ids = list(dataset["id"])
    wanted = list(scenes) if scenes is not None else ids
    out = []
    for scene_id in wanted:
        if scene_id not in ids:
            raise RealBenchError(unknown_scene_message(scene_id, ids, origin))
        row = dataset[ids.index(scene_id)]
        target = _decode(row["target"])
        mask_img = _decode(row["mask"])
        mask = (mask_img if mask_img.ndim == 2 else mask_img.mean(axis=2)) >= 128
        gt = _decode(row.get("gt"))
        if gt is None and require_gt:
            raise RealBenchError("ground truth image is missing", scene=scene_id, path=origin)
        refs = [_decode(r) for r in row["refs"]]
        if not refs:
            raise RealBenchError("no reference images", scene=scene_id, path=origin)
        _validate(scene_id, target, mask, gt, {"mask": origin, "gt": origin})
        source = json.loads(row.get("source") or "{}")
        source["dataset"] = origin
        from .scene import infer_task

        out.append(Scene(scene_id, row.get("task") or infer_task(mask), tuple(refs), target, mask, gt, source))
    return out


def load_saved_dataset(path: Path, scenes: Iterable[str] | None = None, require_gt: bool = True) -> list[Scene]:
    from datasets import load_from_disk

    try:
        dataset = load_from_disk(str(path))
    except Exception as exc:  # datasets raises many types for a broken folder
        raise RealBenchError(f"cannot load saved dataset ({exc})", path=str(path)) from None
    return _scenes_from_dataset(dataset, str(path), scenes, require_gt)


def load_hub_dataset(repo_id: str, scenes: Iterable[str] | None = None, require_gt: bool = True) -> list[Scene]:
    """Load a hub dataset id through the local cache (honours ``HF_HUB_OFFLINE``)."""
    from datasets import load_dataset

    try:
        dataset = load_dataset(repo_id)
    except Exception as exc:
        raise RealBenchError(
            f"cannot load Hugging Face dataset ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            "check the id, or fetch it once with internet so it is in the local cache",
            path=repo_id,
        ) from None
    return _scenes_from_dataset(dataset, repo_id, scenes, require_gt)
