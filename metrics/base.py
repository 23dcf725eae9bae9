"""What every metric declares (pyiqa-style metadata) and the small interface the runner calls.

Metadata drives tables: ``higher_is_better`` gives the arrow and the sort order, ``region`` says
whether the metric looks only at the filled pixels, ``default_atol`` is the tolerance
``realbench check`` uses when the user gives none.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal, Sequence

import numpy as np

from realbench.scene import Scene


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    range: tuple[float, float]
    level: Literal["low", "mid", "high"]  # pixel fidelity, perceptual, semantic
    region: Literal["mask", "full"]
    needs_weights: bool = False
    description: str = ""
    default_atol: float = 1e-4

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Metric:
    """A metric scores many samples of one scene against that scene's ground truth.

    ``prepare(scene)`` computes whatever depends only on the ground truth (features, embeddings)
    once per scene; ``score`` then scores a batch of samples against it.
    """

    info: ClassVar[MetricInfo]

    def protocol(self) -> dict[str, Any]:
        """Exactly what is measured: preprocessing, data range, mask rule, model and weights."""
        return {}

    def prepare(self, scene: Scene) -> Any:
        return None

    def score(self, state: Any, scene: Scene, images: Sequence[np.ndarray]) -> list[float]:
        raise NotImplementedError


def check_pair(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> None:
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected two HxWx3 images of equal size, got {pred.shape} and {gt.shape}")
    if mask is not None and mask.shape != pred.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match image {pred.shape[:2]}")
    if mask is not None and not mask.any():
        raise ValueError("mask selects no pixels")
