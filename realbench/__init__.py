"""realbench: benchmark and evaluation harness for reference-driven image completion.

Data flows ``realbench`` (scenes, runner, records, tables, CLI) -> ``methods`` -> ``metrics``
-> ``results``. The CLI is a thin layer over these functions, which notebooks can call directly.
"""
from .errors import RealBenchError
from .loading import Benchmark, load_benchmark
from .scene import Scene

__version__ = "0.1.0"


def evaluate(*args, **kwargs):
    """See :func:`realbench.runner.evaluate`."""
    from .runner import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def leaderboard(*args, **kwargs):
    """See :func:`realbench.tables.leaderboard`."""
    from .tables import leaderboard as _leaderboard

    return _leaderboard(*args, **kwargs)


def check(*args, **kwargs):
    """See :func:`realbench.tables.check`."""
    from .tables import check as _check

    return _check(*args, **kwargs)


__all__ = ["Benchmark", "RealBenchError", "Scene", "check", "evaluate", "leaderboard", "load_benchmark"]
