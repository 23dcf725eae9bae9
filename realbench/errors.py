"""One exception type for every user-facing failure.

The CLI turns a ``RealBenchError`` into a single ``error: ...`` line and exit code 2, so the
message must say *which scene and which file* went wrong and what to do about it.
"""
from __future__ import annotations


class RealBenchError(Exception):
    """A problem with the user's input, configuration or environment (not a bug in realbench)."""

    def __init__(self, message: str, *, scene: str | None = None, path: str | None = None):
        parts = []
        if scene:
            parts.append(f"scene '{scene}'")
        if path:
            parts.append(f"file '{path}'")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.scene = scene
        self.path = path


class RealBenchWarning(UserWarning):
    """Something unusual but usable (more than five references, recorded values being rescored);
    the CLI prints it as one ``warning:`` line."""
