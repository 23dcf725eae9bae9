"""Resumable training state without pickle: tensors in ``state.safetensors``, everything else
(numbers, lists, strings, the optimizer's layout, random generator states) in ``state.json``.

``torch.save`` pickles, and unpickling a file someone else wrote can run code; a run folder may
come from anywhere (a shared drive, a colleague), so nothing in it is ever unpickled.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from realbench.core.errors import RealBenchError

TENSOR, MAPPING = "__tensor__", "__mapping__"


def _split(obj: Any, tensors: dict, path: str) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        key = path or "root"
        tensors[key] = obj.detach().contiguous().cpu()
        return {TENSOR: key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and TENSOR not in obj and MAPPING not in obj:
            return {k: _split(v, tensors, f"{path}.{k}" if path else k) for k, v in obj.items()}
        return {MAPPING: [[k, _split(v, tensors, f"{path}.{k}")] for k, v in obj.items()]}  # int keys
    if isinstance(obj, (list, tuple)):
        return [_split(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a training state")


def _join(obj: Any, tensors: dict) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {TENSOR}:
            return tensors[obj[TENSOR]]
        if set(obj) == {MAPPING}:
            return {k: _join(v, tensors) for k, v in obj[MAPPING]}
        return {k: _join(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join(v, tensors) for v in obj]
    return obj


def save_state(folder: Path, state: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    tensors: dict = {}
    skeleton = _split(state, tensors, "")
    save_file(tensors, str(Path(folder) / "state.safetensors"))
    (Path(folder) / "state.json").write_text(json.dumps(skeleton))


def load_state(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        tensors = load_file(str(folder / "state.safetensors"))
        skeleton = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError) as exc:
        raise RealBenchError(f"cannot read the training checkpoint ({exc}); delete the folder to train from the "
                             "start", path=str(folder)) from None
    return _join(skeleton, tensors)
