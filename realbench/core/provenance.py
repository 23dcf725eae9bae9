"""What produced an output: config hashes, package versions, the git commit of realbench."""
from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("realbench", "numpy", "opencv-python-headless", "scikit-image", "pillow", "torch", "diffusers",
            "peft", "transformers", "lpips", "dreamsim", "open_clip_torch")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(obj: Any) -> str:
    """Short stable hash of a JSON-able config (key order does not matter)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


@functools.lru_cache(maxsize=1)
def git_hash() -> str | None:
    """Commit of the realbench checkout (with ``-dirty`` if modified); None for a plain install."""
    root = Path(__file__).resolve().parents[2]  # the checkout (this file is realbench/core/provenance.py)
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
        # --no-optional-locks: reading the state never writes .git/index.lock into the checkout
        dirty = subprocess.run(["git", "--no-optional-locks", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not commit:
        return None
    return commit + ("-dirty" if dirty else "")
