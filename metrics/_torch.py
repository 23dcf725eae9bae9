"""Helpers shared by the learned metrics: device choice, batching, a per-process model cache."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from realbench.core import devices
from realbench.core.errors import RealBenchError

_MODELS: dict[tuple, Any] = {}


pick_device = devices.pick_device  # the one device rule: --device, else CUDA, then MPS, then the CPU


def real_path(path) -> str:
    """A weights path as a cache key: symlinks resolved, so one folder reached two ways loads once."""
    return os.path.realpath(path)


def cached_model(key: tuple, loader: Callable[[], Any]) -> Any:
    """Load a model once per process (keyed by kind, weights path, options and device)."""
    if key not in _MODELS:
        _MODELS[key] = loader()
    return _MODELS[key]


def forward_context(device, precision: str = "fp32"):
    """What every learned forward pass runs under: no autograd at all (inference mode), and the
    autocast a ``precision`` option asked for (fp16 only where it is made for: CUDA)."""
    import contextlib

    import torch

    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    if precision != "fp32":
        if precision == "fp16" and device.type != "cuda":
            raise RealBenchError(f"precision=fp16 needs a CUDA device (this metric runs on {device.type}); "
                                 "use bf16 or fp32")
        stack.enter_context(torch.autocast(device.type, dtype=getattr(torch, {"bf16": "bfloat16",
                                                                              "fp16": "float16"}[precision])))
    return stack


def batch_size(option: int | None, device, count: int, per_image: int, budget: int, cpu: int) -> int:
    """Samples per forward pass: the option when given; else every pending sample (``count``)
    whose inputs (``per_image`` elements each) fit ``budget`` elements on a GPU, and ``cpu`` on the
    CPU, where larger batches only spill the caches."""
    if option:
        return int(option)
    if device.type == "cpu":
        return max(1, min(count, cpu))
    return max(1, min(count, budget // max(per_image, 1)))


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
