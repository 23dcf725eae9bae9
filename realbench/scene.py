"""The Scene contract every loader produces and every method and metric consumes."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Task = Literal["outpaint", "inpaint"]
TASKS = ("outpaint", "inpaint")


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Scene:
    """One benchmark item.

    ``mask`` is True where pixels are *missing* (to be filled). ``target`` pixels under the mask
    carry no information and must never be read by a method. Arrays are read-only so that a method
    cannot corrupt the scene shared with the metrics.
    """

    id: str
    task: Task
    refs: tuple[np.ndarray, ...]
    target: np.ndarray
    mask: np.ndarray
    gt: np.ndarray | None
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        from .paths import check_name

        check_name(self.id, "scene id")  # ids become folder names in every run: never a path
        object.__setattr__(self, "refs", tuple(_frozen(r) for r in self.refs))
        object.__setattr__(self, "target", _frozen(self.target))
        object.__setattr__(self, "mask", _frozen(self.mask.astype(bool)))
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

    def with_refs(self, refs: list[np.ndarray]) -> "Scene":
        """A copy with other references (used e.g. to limit the reference count)."""
        return Scene(self.id, self.task, tuple(refs), self.target, self.mask, self.gt, dict(self.source))


def natural_key(text: str) -> tuple:
    """Sort key for ids in natural order: RealBench's numeric ids go 0, 1, 2, ..., 10, not 0, 1, 10."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r"(\d+)", text) if part)


def infer_task(mask: np.ndarray) -> Task:
    """Missing pixels touching the image border mean outpainting; a hole inside means inpainting."""
    border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    return "outpaint" if bool(border.any()) else "inpaint"
