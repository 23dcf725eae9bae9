"""RealBench as a Hugging Face ``datasets`` dataset: export (parquet as the Hub stores datasets, with
a dataset card, or ``save_to_disk`` arrow), load from disk (either form), load from the hub cache.

Images are stored as lossless PNG bytes, so a round trip is pixel-identical. A ``DatasetDict``
may have any split names: ``split`` picks one (default ``test`` when present, else the only one).
Hub ids resolve through the local cache first; with ``HF_HUB_OFFLINE=1`` nothing is fetched.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import RealBenchError
from .imageio import FOLDER_MODE, atomic_write_bytes, open_image
from .paths import check_name
from .scene import Scene, infer_task, scenes_checksum, unknown_scene_message, validate_arrays

COLUMNS = ("id", "task", "refs", "target", "mask", "gt", "source")
DEFAULT_SPLIT = "test"


def _png(array: np.ndarray) -> dict:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def _features():
    from datasets import Features, Sequence, Value
    from datasets import Image as HFImage

    return Features({
        "id": Value("string"),
        "task": Value("string"),
        "refs": Sequence(HFImage()),
        "target": HFImage(),
        "mask": HFImage(),
        "gt": HFImage(),
        "source": Value("string"),
    })


def _card(name: str, scenes: list[Scene], split: str, checksum: str, benchmark: str) -> str:
    """A dataset card as the Hub reads it: YAML front matter naming the parquet files and the
    features, then what the data is and where it came from."""
    outpaint = sum(s.task == "outpaint" for s in scenes)
    return f"""---
configs:
- config_name: default
  data_files:
  - split: {split}
    path: data/{split}-*.parquet
dataset_info:
  features:
  - name: id
    dtype: string
  - name: task
    dtype: string
  - name: refs
    sequence: image
  - name: target
    dtype: image
  - name: mask
    dtype: image
  - name: gt
    dtype: image
  - name: source
    dtype: string
  splits:
  - name: {split}
    num_examples: {len(scenes)}
task_categories:
- image-to-image
tags:
- realbench
- image-completion
- reference-driven
realbench_benchmark: {benchmark}
---

# {name}

Reference-driven image completion scenes in the RealBench format (RealFill, Tang et al.,
SIGGRAPH 2024), exported by realbench: {len(scenes)} scenes ({outpaint} outpainting,
{len(scenes) - outpaint} inpainting).

| column | what |
|---|---|
| `id` | scene id |
| `task` | `outpaint` (the hole touches the border) or `inpaint` |
| `refs` | 1-5 reference photos of the same scene (PNG) |
| `target` | the photo to complete; missing pixels are white |
| `mask` | 8-bit mask, 255 = missing (to be filled), 0 = known |
| `gt` | the complete photo (ground truth), if the benchmark has one |
| `source` | JSON: where each scene was loaded from, with file checksums |

Content checksum (realbench, scene ids and pixel content): `{checksum}`. realbench loads it under the
protocol of its `{benchmark}` benchmark (`realbench benchmarks`).
Load it with `realbench data info --data <this folder>` or `datasets.load_dataset("<this folder>")`.
"""


def export_benchmark(bench, to: str | Path, fmt: str = "parquet", split: str = DEFAULT_SPLIT) -> Path:
    """Write a benchmark (or a list of scenes) as a dataset folder, atomically (a temp folder,
    then a rename): ``parquet`` is ``data/<split>-00000-of-00001.parquet`` plus a ``README.md``
    dataset card, as the Hub stores datasets; ``arrow`` is ``save_to_disk``."""
    from datasets import Dataset

    if fmt not in ("parquet", "arrow"):
        raise RealBenchError(f"export format {fmt!r}: parquet or arrow")
    scenes = list(bench)
    name = getattr(bench, "name", "realbench")
    to = Path(to)
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise RealBenchError("export folder exists and is not empty", path=str(to))
    rows: dict[str, list] = {column: [] for column in COLUMNS}
    for scene in scenes:
        rows["id"].append(scene.id)
        rows["task"].append(scene.task)
        rows["refs"].append([_png(r) for r in scene.refs])
        rows["target"].append(_png(scene.target))
        rows["mask"].append(_png(scene.mask.astype(np.uint8) * 255))
        rows["gt"].append(_png(scene.gt) if scene.gt is not None else None)
        rows["source"].append(json.dumps(scene.source, sort_keys=True))
    dataset = Dataset.from_dict(rows, features=_features())
    try:
        to.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=to.parent, prefix=f".{to.name}."))
    except OSError as exc:
        raise RealBenchError(f"cannot write the export ({exc.strerror or exc})", path=str(to)) from None
    os.chmod(tmp, FOLDER_MODE)  # mkdtemp makes 0700; datasets are for sharing
    try:
        if fmt == "arrow":
            dataset.save_to_disk(str(tmp))
        else:
            (tmp / "data").mkdir()
            dataset.to_parquet(str(tmp / "data" / f"{split}-00000-of-00001.parquet"))
        checksum = scenes_checksum((s.id, s.checksum) for s in scenes)
        benchmark = getattr(getattr(bench, "definition", None), "name", "realbench")
        atomic_write_bytes(tmp / "README.md", _card(name, scenes, split, checksum, benchmark).encode())
        if to.exists():
            to.rmdir()
        tmp.rename(to)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RealBenchError(f"cannot write the export ({exc.strerror or exc})", path=str(to)) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return to


def _decode(value, scene_id: str, origin: str, what: str) -> np.ndarray | None:
    """A dataset cell as an array, with the same checks as image files (size limit, corruption)."""
    if value is None:
        return None
    try:
        if isinstance(value, Image.Image):
            image = value
        else:
            data = value.get("bytes") if isinstance(value, dict) else None
            if not isinstance(data, (bytes, bytearray)):
                raise RealBenchError(f"the {what} cell holds no image bytes", scene=scene_id, path=origin)
            image = open_image(io.BytesIO(data), scene_id, f"{origin} ({what})")
        return np.asarray(image.convert("RGB")) if image.mode != "L" else np.asarray(image)
    except RealBenchError:
        raise
    except Exception as exc:  # PIL raises several types for corrupt bytes
        raise RealBenchError(f"cannot decode the {what} image ({type(exc).__name__}: {exc})", scene=scene_id,
                             path=origin) from None


def pick_split(dataset, origin: str, split: str | None):
    """The split to use from a ``DatasetDict`` (a plain ``Dataset`` is returned as it is)."""
    from datasets import DatasetDict

    if not isinstance(dataset, DatasetDict):
        return dataset
    names = list(dataset.keys())
    if split is not None:
        if split not in names:
            raise RealBenchError(f"dataset has no split '{split}' (it has: {', '.join(names)})", path=origin)
        return dataset[split]
    if DEFAULT_SPLIT in names:
        return dataset[DEFAULT_SPLIT]
    if len(names) == 1:
        return dataset[names[0]]
    raise RealBenchError(f"dataset has several splits ({', '.join(names)}); choose one with --split", path=origin)


def _scenes_from_dataset(dataset, origin: str, scenes: Iterable[str] | None, require_gt: bool,
                         split: str | None = None) -> list[Scene]:
    dataset = pick_split(dataset, origin, split)
    missing = {"id", "refs", "target", "mask"} - set(dataset.column_names)
    if missing:
        raise RealBenchError(f"dataset lacks columns {sorted(missing)} (it has: {', '.join(dataset.column_names)}); "
                             "expected RealBench columns id, task, refs, target, mask, gt", path=origin)
    ids = [str(i) for i in dataset["id"]]
    for scene_id in ids:
        check_name(scene_id, "scene id", path=origin)
    if len(set(ids)) < len(ids):
        raise RealBenchError("dataset holds two scenes with the same id", path=origin)
    wanted = list(scenes) if scenes is not None else ids
    out = []
    for scene_id in wanted:
        if scene_id not in ids:
            raise RealBenchError(unknown_scene_message(scene_id, ids, origin))
        row = dataset[ids.index(scene_id)]
        target = _decode(row["target"], scene_id, origin, "target")
        mask_img = _decode(row["mask"], scene_id, origin, "mask")
        if target is None or mask_img is None:
            raise RealBenchError("target or mask image is missing", scene=scene_id, path=origin)
        mask = (mask_img if mask_img.ndim == 2 else mask_img.mean(axis=2)) >= 128
        gt = _decode(row.get("gt"), scene_id, origin, "ground truth")
        if gt is None and require_gt:
            raise RealBenchError("ground truth image is missing", scene=scene_id, path=origin)
        refs = [_decode(r, scene_id, origin, "reference") for r in (row["refs"] or [])]
        if not refs:
            raise RealBenchError("no reference images", scene=scene_id, path=origin)
        validate_arrays(scene_id, target, mask, gt, {"mask": origin, "gt": origin})
        try:
            source = json.loads(row.get("source") or "{}")
        except ValueError:
            source = {}
        source = source if isinstance(source, dict) else {}
        source["dataset"] = origin
        out.append(Scene(scene_id, row.get("task") or infer_task(mask), tuple(refs), target, mask, gt, source))
    return out


def card_benchmark(path: Path) -> str | None:
    """The benchmark a dataset folder's card names (``realbench_benchmark:`` in its front matter)."""
    try:
        text = (Path(path) / "README.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = re.search(r"^realbench_benchmark:\s*([\w.-]+)\s*$", text.split("\n---", 1)[0], re.M)
    return match.group(1) if match else None


def is_parquet_folder(path: Path) -> bool:
    return path.is_dir() and (any(path.glob("*.parquet")) or any(path.glob("data/*.parquet"))
                              or any(path.glob("*/*.parquet")))


def load_saved_dataset(path: Path, scenes: Iterable[str] | None = None, require_gt: bool = True,
                       split: str | None = None) -> list[Scene]:
    """A ``save_to_disk`` folder, or parquet files laid out as the Hub stores datasets."""
    from datasets import load_dataset, load_from_disk

    try:
        if (is_parquet_folder(path) and not (path / "dataset_dict.json").is_file()
                and not (path / "state.json").is_file()):
            dataset = load_dataset(str(path))
        else:
            dataset = load_from_disk(str(path))
    except Exception as exc:  # datasets raises many types for a broken folder
        first = (str(exc).splitlines() or [""])[0][:200]
        raise RealBenchError(f"cannot load the dataset ({type(exc).__name__}: {first})", path=str(path)) from None
    return _scenes_from_dataset(dataset, str(path), scenes, require_gt, split)


def load_hub_dataset(repo_id: str, scenes: Iterable[str] | None = None, require_gt: bool = True,
                     split: str | None = None) -> list[Scene]:
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
    return _scenes_from_dataset(dataset, repo_id, scenes, require_gt, split)
