"""Settings of methods and metrics: defaults deep-merged with user overrides (``--set a.b=v``),
where an unknown key is an error with a "did you mean" hint rather than a silent no-op."""
from __future__ import annotations

import copy
import difflib
from typing import Any

from .errors import RealBenchError


def merge_config(defaults: dict[str, Any], overrides: dict[str, Any], owner: str) -> dict[str, Any]:
    """Deep-merge dotted or nested ``overrides`` into ``defaults``; unknown keys are errors."""
    merged = copy.deepcopy(defaults)
    for key, value in flatten(overrides).items():
        node = merged
        parts = key.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                known = sorted(flatten(defaults))
                close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
                hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise RealBenchError(f"{owner} has no setting '{key}'.{hint} Settings: {', '.join(known) or 'none'}.")
            if depth == len(parts) - 1:
                node[part] = value
            else:
                node = node[part]
    return merged


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
