"""RealBench as a Hugging Face ``datasets`` dataset: export (parquet as the Hub stores datasets, with
a dataset card, or ``save_to_disk`` arrow), load from disk (either form), load from the hub cache.

Images are stored as lossless PNG bytes, so a round trip is pixel-identical. A ``DatasetDict``
may have any split names: ``split`` picks one (default ``test`` when present, else the only one).
Hub ids resolve through the local cache first; with ``HF_HUB_OFFLINE=1`` nothing is fetched.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from realbench.core.download import hub_unreachable
from realbench.core.errors import RealBenchError, describe
from realbench.core.fields import brief
from realbench.core.files import atomic_write_bytes, staged_folder
from realbench.core.imageio import image_to_mask, image_to_rgb, open_image_bytes
from realbench.core.paths import check_name, check_out, name_key, printable
from realbench.core.scene import Scene, declared_task, scenes_checksum, unknown_scene_message, validate_arrays

COLUMNS = ("id", "task", "refs", "target", "mask", "gt", "source")
DEFAULT_SPLIT = "test"


@contextlib.contextmanager
def quiet_datasets() -> Iterator[None]:
    """``datasets`` without its progress bars and chatter (a card field it ignores, "Creating
    parquet ..."): realbench says what happened itself."""
    import datasets

    bars = datasets.is_progress_bar_enabled()
    level = datasets.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        yield
    finally:
        datasets.logging.set_verbosity(level)
        if bars:
            datasets.enable_progress_bars()


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


def _card(name: str, scenes: list[Scene], split: str, checksum: str, benchmark: str, num_bytes: int) -> str:
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
    num_bytes: {num_bytes}
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


def _same_export(to: Path, checksum: str, split: str, fmt: str) -> bool:
    """Whether ``to`` is an export of the data with ``checksum``, as ``split``, in ``fmt``."""
    card = _card_text(to)
    if f"`{checksum}`" not in card or f"config_name: default\n  data_files:\n  - split: {split}" not in card:
        return False
    if fmt == "arrow":
        return (to / "dataset_info.json").is_file() or (to / "state.json").is_file()
    return (to / "data" / f"{split}-00000-of-00001.parquet").is_file()


def already_exported(bench, to: str | Path, fmt: str = "parquet", split: str = DEFAULT_SPLIT) -> bool:
    """Whether ``export_benchmark`` would find its work done (so a rerun can say so)."""
    checksum = scenes_checksum((s.id, s.checksum) for s in bench)
    return Path(to).is_dir() and _same_export(Path(to), checksum, split, fmt)


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
    checksum = scenes_checksum((s.id, s.checksum) for s in scenes)
    if to.exists() and not to.is_dir():
        raise RealBenchError("--to is a file, not a folder", path=str(to))
    check_out(to, "--to")
    if to.is_dir() and any(to.iterdir()):
        if _same_export(to, checksum, split, fmt):  # the same data exported before (a rerun after a kill, say)
            return to
        other = "arrow" if fmt == "parquet" else "parquet"
        if _same_export(to, checksum, split, other):
            raise RealBenchError(f"export folder holds this data already, as {other} (not {fmt}); give another --to",
                                 path=str(to))
        raise RealBenchError("export folder exists, is not empty and is not an export of this data", path=str(to))
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
        with staged_folder(to) as tmp, quiet_datasets():
            if fmt == "arrow":
                dataset.save_to_disk(str(tmp))
            else:
                (tmp / "data").mkdir()
                dataset.to_parquet(str(tmp / "data" / f"{split}-00000-of-00001.parquet"))
            benchmark = getattr(getattr(bench, "definition", None), "name", "realbench")
            atomic_write_bytes(tmp / "README.md", _card(name, scenes, split, checksum, benchmark,
                                                           int(dataset.data.nbytes)).encode())
    except OSError as exc:
        raise RealBenchError(f"cannot write the export ({exc.strerror or exc})", path=str(to)) from None
    return to


IMAGE_COLUMNS = ("refs", "target", "mask", "gt")


def _image(value, scene_id: str, origin: str, what: str, mask: bool = False) -> np.ndarray | None:
    """A dataset cell (``{"bytes": ..., "path": ...}``, as the Hub's Image feature stores it)
    through the same checks and conversions as an image file: the pixel limit from the header,
    16-bit scaling, alpha, grey to RGB, a mask's binarity."""
    if value is None:
        return None
    data = value.get("bytes") if isinstance(value, dict) else None
    if not isinstance(data, (bytes, bytearray)):
        raise RealBenchError(f"the {what} cell holds no image bytes (a file path in a dataset is not read)",
                             scene=scene_id, path=origin)
    where = f"{origin} ({what})"
    image = open_image_bytes(bytes(data), scene_id, where)
    return image_to_mask(image, scene_id, where) if mask else image_to_rgb(image)


def scene_from_row(row: dict, scene_id: str, origin: str, require_gt: bool) -> Scene:
    """One dataset row as a validated scene (the checks of a scene folder)."""
    target = _image(row.get("target"), scene_id, origin, "target")
    mask = _image(row.get("mask"), scene_id, origin, "mask", mask=True)
    if target is None or mask is None:
        raise RealBenchError("target or mask image is missing", scene=scene_id, path=origin)
    gt = _image(row.get("gt"), scene_id, origin, "ground truth")
    if gt is None and require_gt:
        raise RealBenchError("ground truth image is missing", scene=scene_id, path=origin)
    cells = row.get("refs") or []
    if not isinstance(cells, list):
        raise RealBenchError(f"the refs cell must be a list of images, got {brief(cells)}", scene=scene_id,
                             path=origin)
    refs = [_image(cell, scene_id, origin, f"reference {i}") for i, cell in enumerate(cells)]
    if not refs or any(r is None for r in refs):
        raise RealBenchError("no reference images", scene=scene_id, path=origin)
    validate_arrays(scene_id, target, mask, gt, {"mask": origin, "gt": origin})
    try:
        source = json.loads(row.get("source") or "{}")
    except (TypeError, ValueError):
        source = {}
    source = {**(source if isinstance(source, dict) else {}), "dataset": origin}
    task = declared_task(row.get("task"), mask, scene_id, origin)
    return Scene(scene_id, task, tuple(r for r in refs if r is not None), target, mask, gt, source)


def _scene_id(value, origin: str) -> str:
    """A row's scene id: text (or a whole number, as some datasets store RealBench's 0-32)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RealBenchError(f"a row's id must be text, got {brief(value)}", path=origin)
    return str(value)


def _wanted(ids: list[str], scenes: Iterable[str] | None, origin: str) -> list[str]:
    for scene_id in ids:
        check_name(scene_id, "scene id", path=origin)
    keys: dict[str, str] = {}
    for scene_id in ids:
        key = name_key(scene_id)
        if key in keys:  # the same text, or one that prints alike (NFC and NFD) or differs only in case
            same = "the same id" if keys[key] == scene_id else "the same id up to case or Unicode normal form"
            raise RealBenchError(f"dataset holds two scenes with {same} ('{printable(keys[key])}' and "
                                 f"'{printable(scene_id)}')", path=origin)
        keys[key] = scene_id
    wanted = list(scenes) if scenes is not None else ids
    for scene_id in wanted:
        if scene_id not in ids:
            raise RealBenchError(unknown_scene_message(scene_id, ids, origin))
    return wanted


def _check_columns(columns: Iterable[str], origin: str) -> None:
    missing = {"id", "refs", "target", "mask"} - set(columns)
    if missing:
        raise RealBenchError(f"dataset lacks columns {sorted(missing)} (it has: {', '.join(columns)}); "
                             "expected RealBench columns id, task, refs, target, mask, gt", path=origin)


def pick_split(dataset, origin: str, split: str | None):
    """The split to use from a ``DatasetDict`` (a plain ``Dataset`` is returned as it is)."""
    from datasets import DatasetDict

    if not isinstance(dataset, DatasetDict):
        return dataset
    return dataset[choose_split(list(dataset.keys()), split, origin)]


def choose_split(names: list[str], split: str | None, origin: str) -> str:
    if split is not None:
        if split not in names:
            raise RealBenchError(f"dataset has no split '{split}' (it has: {', '.join(names)})", path=origin)
        return split
    if DEFAULT_SPLIT in names:
        return DEFAULT_SPLIT
    if len(names) == 1:
        return names[0]
    raise RealBenchError(f"dataset has several splits ({', '.join(names)}); choose one with --split", path=origin)


def _scenes_from_dataset(dataset, origin: str, scenes: Iterable[str] | None, require_gt: bool,
                         split: str | None = None) -> list[Scene]:
    """Scenes of a ``datasets`` dataset, its images read as the bytes stored (never decoded by
    ``datasets``), one row at a time from its memory-mapped files: nothing is written beside them."""
    dataset = pick_split(dataset, origin, split)
    _check_columns(dataset.column_names, origin)
    raw = dataset.with_format("arrow")  # cells as stored (image bytes); casting would write a cache file
    ids = [_scene_id(i, origin) for i in _arrow(raw, "id", origin)]
    return [scene_from_row(_arrow(raw, ids.index(s), origin)[0], s, origin, require_gt)
            for s in _wanted(ids, scenes, origin)]


def _arrow(raw, key: str | int, origin: str) -> list:
    """A column or a row of an arrow-formatted dataset as Python values, read from its files;
    a damaged file is one error."""
    try:
        return raw[key].to_pylist()
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise RealBenchError(f"cannot read the dataset ({describe(exc)})", path=origin) from None


def _parquet_files(path: Path, split: str | None) -> list[Path]:
    """A local parquet dataset's files for one split, laid out as the Hub stores them
    (``data/<split>-*.parquet``, ``<split>/*.parquet``) or a single split of ``*.parquet``."""
    files = sorted({*path.glob("*.parquet"), *path.glob("data/*.parquet"), *path.glob("*/*.parquet")})
    splits: dict[str, list[Path]] = {}
    for file in files:
        name = file.parent.name if file.parent != path and file.parent.name != "data" else file.name.split("-")[0]
        splits.setdefault(name if name != file.name else "train", []).append(file)
    return splits[choose_split(sorted(splits), split, str(path))]


def _parquet_rows(files: list[Path], origin: str) -> Iterator[dict]:
    """Rows one at a time, straight from the files (no ``datasets`` cache, which is keyed by the
    folder's name and would serve another folder of that name)."""
    import pyarrow.parquet as pq

    for file in files:
        try:
            handle = pq.ParquetFile(file)
            _check_columns(handle.schema_arrow.names, origin)
            for batch in handle.iter_batches(batch_size=1):
                yield from batch.to_pylist()
        except RealBenchError:
            raise
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise RealBenchError(f"cannot read the parquet file ({describe(exc)})", path=str(file)) from None


def load_parquet_folder(path: Path, scenes: Iterable[str] | None, require_gt: bool, split: str | None) -> list[Scene]:
    origin = str(path)
    files = _parquet_files(path, split)
    ids = [_scene_id(row.get("id"), origin) for row in _parquet_ids(files, origin)]
    wanted = set(_wanted(ids, scenes, origin))
    found = {}
    for row in _parquet_rows(files, origin):
        scene_id = _scene_id(row.get("id"), origin)
        if scene_id in wanted:
            found[scene_id] = scene_from_row(row, scene_id, origin, require_gt)
    return [found[s] for s in (list(scenes) if scenes is not None else ids)]


def _parquet_ids(files: list[Path], origin: str) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        return [row for file in files for row in pq.read_table(file, columns=["id"]).to_pylist()]
    except Exception as exc:
        raise RealBenchError(f"cannot read the parquet dataset's ids ({describe(exc)})", path=origin) from None


def _card_text(folder: Path) -> str:
    try:
        with open(folder / "README.md", encoding="utf-8") as handle:
            return handle.read(64 * 1024)
    except (OSError, UnicodeDecodeError):
        return ""


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
    from datasets import load_from_disk

    if is_parquet_folder(path) and not (path / "dataset_dict.json").is_file() and not (path / "state.json").is_file():
        return load_parquet_folder(path, scenes, require_gt, split)
    try:
        with quiet_datasets():
            dataset = load_from_disk(str(path))
    except Exception as exc:  # datasets raises many types for a broken folder
        raise RealBenchError(f"cannot load the dataset ({describe(exc)})", path=str(path)) from None
    return _scenes_from_dataset(dataset, str(path), scenes, require_gt, split)


def load_hub_dataset(repo_id: str, scenes: Iterable[str] | None = None, require_gt: bool = True,
                     split: str | None = None) -> list[Scene]:
    """Load a hub dataset id through the local cache (honours ``HF_HUB_OFFLINE``). Without network
    (and without ``HF_HUB_OFFLINE``) it fails at once, saying so, instead of after retries."""

    from datasets import load_dataset

    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or os.environ.get(
        "HF_DATASETS_OFFLINE", "") not in ("", "0")
    reason = None if offline else hub_unreachable(repo_id, "dataset")
    local = f" (there is no {os.path.abspath(repo_id)})" if not os.path.exists(repo_id) else ""
    if reason:
        raise RealBenchError(f"'{repo_id}' is no local folder{local}, and the Hugging Face hub cannot be reached for "
                             f"a dataset of that id (no network: {reason}); with the dataset in your local cache, "
                             "set HF_HUB_OFFLINE=1", path=repo_id)
    try:
        with quiet_datasets():
            dataset = load_dataset(repo_id)
    except Exception as exc:
        if offline:
            raise RealBenchError(f"'{repo_id}' is no local folder{local}, and no dataset of that id is in the local "
                                 "Hugging Face cache (HF_HUB_OFFLINE is set, so the hub is not asked)",
                                 path=repo_id) from None
        raise RealBenchError(f"cannot load Hugging Face dataset ({describe(exc)}); check the id{local}, or fetch it "
                             "once with internet so it is in the local cache", path=repo_id) from None
    return _scenes_from_dataset(dataset, repo_id, scenes, require_gt, split)
