"""realbench: benchmark and evaluation harness for reference-driven image completion.

The Python API, the same functions the CLI calls::

    import realbench
    bench = realbench.load_benchmark("sample")
    run = realbench.evaluate("telea", bench, out="runs/telea")
    realbench.leaderboard([run])

Everything here is imported on first use (module ``__getattr__``), so ``import realbench`` stays
light and no submodule is imported just because the package is; each name is the real object,
with its own signature and docstring.
"""
from __future__ import annotations

import os as _os
import signal as _signal
import sys as _sys
from typing import Any


def _interrupted_while_loading(signum: int, frame: Any) -> None:
    """Ctrl-C before the CLI's own handling is in place: nothing was written yet; one line, 130."""
    _os.write(2, b"interrupted\n")
    _os._exit(130)


if _os.path.basename(_sys.argv[0] if _sys.argv else "") == "realbench" and \
        _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:  # the CLI, and only it
    _signal.signal(_signal.SIGINT, _interrupted_while_loading)  # realbench.console.main restores the default

import importlib  # noqa: E402

from . import _moved  # noqa: E402

__version__ = "0.2.0"
_moved.install()  # old import paths (realbench.errors, realbench.runview, ...) keep working, with a warning

_LAZY = {
    "RealBenchError": "core.errors", "RealBenchWarning": "core.errors", "Scene": "core.scene",
    "baseline": "core.resources",
    "Benchmark": "api", "load_benchmark": "api", "export_benchmark": "api", "RunConfig": "api", "RunResult": "api",
    "evaluate": "api", "merge": "api", "leaderboard": "api", "check": "api", "compare": "api",
    "build_report": "api", "make_study": "study", "analyze_study": "study", "serve_study": "study",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'realbench' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY) + ["__version__"]
