"""realbench: benchmark and evaluation harness for reference-driven image completion.

The Python API, the same functions the CLI calls::

    import realbench
    bench = realbench.load_benchmark("sample")
    run = realbench.evaluate("telea", bench, out="runs/telea")
    realbench.leaderboard([run])

``evaluate``, ``leaderboard``, ``check``, ``compare`` and ``build_report`` are imported on first use
(module ``__getattr__``), so ``import realbench`` stays light, yet each is the real function with
its own signature and docstring.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import RealBenchError, RealBenchWarning
from .loading import Benchmark, load_benchmark
from .resources import baseline
from .scene import Scene

__version__ = "0.1.0"

_LAZY = {
    "evaluate": ("runner", "evaluate"),
    "RunResult": ("runner", "RunResult"),
    "leaderboard": ("tables", "leaderboard"),
    "check": ("tables", "check"),
    "compare": ("tables", "compare"),
    "build_report": ("report", "build_report"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'realbench' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["Benchmark", "RealBenchError", "RealBenchWarning", "RunResult", "Scene", "__version__", "baseline",
           "build_report", "check", "compare", "evaluate", "leaderboard", "load_benchmark"]
