"""The ground-truth side of learned metrics on disk: tensors (and lists, tuples, dicts of them)
in safetensors files, never pickle, under ``<realbench cache>/features/<protocol>/<scene>``.

The key is a hash of the metric's full protocol (name, version, model, weights id, preprocessing,
precision), the device type and the scene's content checksum, so a file is reused only for the
very computation that made it, and a second method scored on the same data pays only for its
own images. ``REALBENCH_FEATURE_CACHE=off`` turns it off.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from realbench.core.cache import cache_dir
from realbench.core.files import atomic_write_bytes
from realbench.core.provenance import canonical_json


def feature_cache_enabled() -> bool:
    return os.environ.get("REALBENCH_FEATURE_CACHE", "on").lower() not in ("0", "off", "no", "false")


def feature_cache_path(protocol: dict[str, Any], device_type: str, scene_checksum: str) -> Path:
    key = hashlib.sha256(f"{canonical_json(protocol)}|{device_type}".encode()).hexdigest()[:20]
    return cache_dir() / "features" / f"{protocol.get('metric', 'metric')}-{key}" / f"{scene_checksum}.safetensors"


def _flatten(state: Any, prefix: str, tensors: dict) -> Any:
    """The structure of ``state`` with every tensor replaced by its key in ``tensors``."""
    import torch

    if isinstance(state, torch.Tensor):
        tensors[prefix] = state.detach().to("cpu").contiguous()
        return {"tensor": prefix}
    if isinstance(state, (list, tuple)):
        return {"list": [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(state)],
                "tuple": isinstance(state, tuple)}
    if isinstance(state, dict) and all(isinstance(k, str) for k in state):
        return {"dict": {k: _flatten(v, f"{prefix}.{k}", tensors) for k, v in state.items()}}
    raise TypeError(f"cannot store a {type(state).__name__} in the feature cache")


def _unflatten(structure: Any, tensors: dict, device) -> Any:
    if "tensor" in structure:
        return tensors[structure["tensor"]].to(device) if device is not None else tensors[structure["tensor"]]
    if "list" in structure:
        items = [_unflatten(v, tensors, device) for v in structure["list"]]
        return tuple(items) if structure["tuple"] else items
    return {k: _unflatten(v, tensors, device) for k, v in structure["dict"].items()}


def save_state(path: Path, state: Any) -> None:
    """Write ``state`` atomically; a state of another kind, or an unwritable cache, is skipped
    (the cache only saves time, it never decides a number)."""
    from safetensors.torch import save

    tensors: dict = {}
    try:
        structure = _flatten(state, "s", tensors)
        atomic_write_bytes(path, save(tensors, metadata={"structure": json.dumps(structure)}))
    except (TypeError, OSError):
        pass


def load_state(path: Path, device) -> Any | None:
    """The stored state, or None when there is none (or it cannot be read: it is recomputed)."""
    from safetensors.torch import load

    try:
        data = path.read_bytes()
        size = int.from_bytes(data[:8], "little")  # safetensors: header length, then the JSON header
        structure = json.loads(json.loads(data[8:8 + size])["__metadata__"]["structure"])
        return _unflatten(structure, load(data), device)
    except Exception:  # missing, torn or foreign: compute it again
        return None
