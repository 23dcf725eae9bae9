"""Files that ship with realbench: the committed baselines and the paper's reported numbers
(``results/`` in the repository, installed as ``realbench/results``)."""
from __future__ import annotations

from pathlib import Path

from .errors import RealBenchError


def results_dir() -> Path:
    """``results/`` of an installed wheel (inside the package) or of a source checkout."""
    package = Path(__file__).resolve().parents[1]  # realbench/ (this file is realbench/core/resources.py)
    here = package
    for candidate in (package / "results", package.parent / "results"):
        if (candidate / "paper").is_dir():
            return candidate
    raise RealBenchError("realbench's results/ folder (baselines, paper numbers) is not installed", path=str(here))


def baseline(name: str) -> Path:
    """A committed baseline table, e.g. ``baseline("telea-sample")`` for ``realbench check``."""
    folder = results_dir() / "baselines"
    path = folder / (name if name.endswith(".csv") else f"{name}.csv")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.csv")))
        raise RealBenchError(f"no baseline '{name}' (known: {known})", path=str(folder))
    return path


def paper_dir() -> Path:
    return results_dir() / "paper"
