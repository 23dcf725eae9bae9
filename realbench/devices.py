"""``--device``: checked once, before any work, then handed to methods, metrics and the matcher."""
from __future__ import annotations

from .errors import RealBenchError

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
            raise RealBenchError(f"--device '{name}': this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RealBenchError(f"--device '{name}': MPS is not available on this machine")
    return str(device)
