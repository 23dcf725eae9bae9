"""Helpers shared by the learned metrics: device choice, batching, a per-process model cache."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

_MODELS: dict[tuple, Any] = {}


def pick_device(requested: str | None = None):
    import torch

    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cached_model(key: tuple, loader: Callable[[], Any]) -> Any:
    """Load a model once per process (keyed by kind, weights path, options and device)."""
    if key not in _MODELS:
        _MODELS[key] = loader()
    return _MODELS[key]


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def to_tensor(images: Sequence[np.ndarray], device) -> Any:
    """uint8 HxWx3 images -> float NCHW in [0, 1] on ``device``."""
    import torch

    array = np.stack([np.asarray(image) for image in images]).astype(np.float32) / 255.0
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous().to(device)


def cosine(a, b) -> Any:
    import torch.nn.functional as F

    return F.cosine_similarity(a.double(), b.double(), dim=-1)
