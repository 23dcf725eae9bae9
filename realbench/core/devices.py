"""Where torch computes: one rule for every part of realbench (methods, metrics, the matcher):
an explicit ``--device`` (checked once, before any work), else CUDA, then MPS, then the CPU.
``device_class`` names the class of a device for tables and tolerances (``gpu``, ``mps``, ``cpu``)."""
from __future__ import annotations

from .errors import RealBenchError
from .words import count

KNOWN = ("cpu", "cuda", "mps")


def check_device(name: str | None) -> str | None:
    """The canonical torch device string for ``name`` (None: each component picks, CUDA first),
    or one clear error if it is not a device or is not on this machine."""
    if name is None or str(name).strip().lower() in ("", "auto"):
        return None
    import torch

    try:
        device = torch.device(str(name).strip())
    except (RuntimeError, ValueError):
        raise RealBenchError(f"--device '{name}' is not a torch device (cpu, cuda, cuda:1, mps)") from None
    if device.type not in KNOWN:
        raise RealBenchError(f"--device '{name}': realbench runs on {', '.join(KNOWN)}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RealBenchError(f"--device '{name}': CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            has = count(torch.cuda.device_count(), "CUDA device")
            raise RealBenchError(f"--device '{name}': this machine has {has}")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RealBenchError(f"--device '{name}': MPS is not available on this machine")
    return str(device)


def pick_device(name: str | None = None):
    """The torch device for ``name`` (None or ``auto``: CUDA, then MPS, then the CPU)."""
    import torch

    if name is not None and str(name).strip().lower() not in ("", "auto"):
        return torch.device(str(name).strip())
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_class(device: str | None) -> str:
    """``gpu`` (CUDA), ``mps`` or ``cpu`` for a device string (None: what ``pick_device`` picks)."""
    name = str(pick_device(device)) if device is None else str(device)
    if name.startswith("cuda"):
        return "gpu"
    return "mps" if name.startswith("mps") else "cpu"
