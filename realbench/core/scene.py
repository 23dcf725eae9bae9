"""The Scene contract every loader produces and every method and metric consumes."""
from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .errors import RealBenchError
from .fields import brief
from .paths import check_name

Task = Literal["outpaint", "inpaint"]
TASKS = ("outpaint", "inpaint")


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


def _blank(target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The target with white where pixels are missing (a copy, only if anything changes)."""
    if target.shape[:2] != mask.shape or not mask.any() or (target[mask] == 255).all():
        return target
    target = target.copy()
    target[mask] = 255
    return target


@dataclass(frozen=True)
class Scene:
    """One benchmark item.

    ``mask`` is True where pixels are *missing* (to be filled). ``target`` pixels under the mask
    carry no information: they are set to white here, as the release's targets hold them (its
    transparent ones composite to white), so a target file that still holds the photo under its
    mask cannot leak the answer to any method. Arrays are read-only so that a method cannot
    corrupt the scene shared with the metrics.
    """

    id: str
    task: Task
    refs: tuple[np.ndarray, ...]
    target: np.ndarray
    mask: np.ndarray
    gt: np.ndarray | None
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        check_name(self.id, "scene id")  # ids become folder names in every run: never a path
        object.__setattr__(self, "refs", tuple(_frozen(r) for r in self.refs))
        mask = np.asarray(self.mask).astype(bool)
        object.__setattr__(self, "target", _frozen(_blank(np.asarray(self.target), mask)))
        object.__setattr__(self, "mask", _frozen(mask))
        if self.gt is not None:
            object.__setattr__(self, "gt", _frozen(self.gt))

    def __repr__(self) -> str:
        h, w = self.size
        return (f"Scene({self.id!r}, {self.task}, {w}x{h}, {len(self.refs)} refs, "
                f"{self.mask.mean():.0%} missing, {'with' if self.gt is not None else 'no'} ground truth)")

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of target, mask and ground truth."""
        return self.mask.shape  # type: ignore[return-value]

    @property
    def checksum(self) -> str:
        """Hash of the pixel content (not the files), so records can tell when a scene changed."""
        cached = self.__dict__.get("_checksum")
        if cached is None:
            h = hashlib.sha256()
            h.update(self.id.encode())
            for array in (*self.refs, self.target * ~self.mask[..., None], self.mask):
                h.update(str(array.shape).encode())
                h.update(array.tobytes())
            if self.gt is not None:
                h.update(self.gt.tobytes())
            cached = h.hexdigest()[:16]
            object.__setattr__(self, "_checksum", cached)
        return cached

    def with_refs(self, refs: list[np.ndarray]) -> Scene:
        """A copy with other references (used e.g. to limit the reference count)."""
        return Scene(self.id, self.task, tuple(refs), self.target, self.mask, self.gt, dict(self.source))


def natural_key(text: str) -> tuple:
    """Sort key for ids in natural order: RealBench's numeric ids go 0, 1, 2, ..., 10, not 0, 1, 10."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r"(\d+)", text) if part)


ID_ORDERS = ("natural", "text")


def scene_sort_key(order: str = "natural"):
    """The sort key of an id order a benchmark names: ``natural`` (0, 1, 2, ..., 10) or ``text``."""
    if order not in ID_ORDERS:
        raise RealBenchError(f"unknown scene id order '{order}' (one of {', '.join(ID_ORDERS)})")
    return natural_key if order == "natural" else str


def infer_task(mask: np.ndarray) -> Task:
    """Missing pixels touching the image border mean outpainting; a hole inside means inpainting."""
    border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    return "outpaint" if bool(border.any()) else "inpaint"


def declared_task(declared: object, mask: np.ndarray, scene_id: str, path: str) -> Task:
    """The task a dataset or manifest declares, if the mask agrees (``infer_task``'s rule, where
    no task is declared): a scene scored under the wrong task would land in the wrong split."""
    inferred = infer_task(mask)
    if declared is None or declared == "":
        return inferred
    if declared not in TASKS:
        raise RealBenchError(f"task {brief(declared)} must be one of {', '.join(TASKS)}", scene=scene_id, path=path)
    if declared != inferred:
        where = ("reaches the image border (outpainting)" if inferred == "outpaint" else
                 "lies inside the image, away from its border (inpainting)")
        raise RealBenchError(f"task '{declared}' is declared, but the mask's missing region {where}; fix the task "
                             "or the mask", scene=scene_id, path=path)
    return inferred


def unknown_scene_message(scene_id: str, known: list[str], spec: str) -> str:
    close = difflib.get_close_matches(scene_id, known, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown scene id '{scene_id}' in data '{spec}'.{hint} Known: {', '.join(known)}."


MIN_SIDE = 8  # a target narrower than this is no image to complete (and the VAE's stride is 8)


def validate_arrays(scene_id: str, target: np.ndarray, mask: np.ndarray, gt: np.ndarray | None, files: dict) -> None:
    """Sizes agree, the image is large enough to complete, and the mask has both missing and known
    pixels (``files`` name the culprits)."""
    if min(target.shape[:2]) < MIN_SIDE:
        raise RealBenchError(f"target is {target.shape[1]}x{target.shape[0]}: at least {MIN_SIDE} pixels each way "
                             "are needed", scene=scene_id, path=str(files.get("target", files["mask"])))
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
        raise RealBenchError("mask is empty: no missing (white) pixels to fill", scene=scene_id,
                             path=str(files["mask"]))
    if mask.all():
        raise RealBenchError("mask covers the whole image: no known pixels", scene=scene_id, path=str(files["mask"]))


def scenes_checksum(pairs) -> str:
    """Hash of (scene id, scene content checksum) pairs: the identity of the data a run scored."""
    return hashlib.sha256(json.dumps(sorted({(str(i), str(c)) for i, c in pairs})).encode()).hexdigest()[:12]
