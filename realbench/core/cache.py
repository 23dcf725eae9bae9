"""Where realbench keeps what it makes once and reuses: the built-in sample, unpacked archives,
DreamSim's weights when no ``$REALBENCH_WEIGHTS_DIR`` is set, hashes of weight files."""
from __future__ import annotations

import os
from pathlib import Path

from .paths import expand_user


def cache_dir() -> Path:
    """``$REALBENCH_CACHE``, else ``$XDG_CACHE_HOME/realbench``, else ``~/.cache/realbench``."""
    if os.environ.get("REALBENCH_CACHE"):
        return expand_user(os.environ["REALBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "realbench"
