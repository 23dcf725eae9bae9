"""One exception type for every user-facing failure.

The CLI turns a ``RealBenchError`` into a single ``error: ...`` line and exit code 2, so the
message must say *which scene and which file* went wrong and what to do about it. A failure with
several parts (every missing weight file, every bad setting) keeps the line short and carries the
parts in ``details``: the CLI prints one indented line per item under it.
"""
from __future__ import annotations

from collections.abc import Sequence


class RealBenchError(Exception):
    """A problem with the user's input, configuration or environment (not a bug in realbench)."""

    def __init__(self, message: str, *, scene: str | None = None, path: str | None = None,
                 details: Sequence[str] = ()):
        parts = []
        if scene:
            parts.append(f"scene '{scene}'")
        if path:
            parts.append(f"file '{path}'")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.scene = scene
        self.path = path
        self.details = list(details)


class NothingToRun(RealBenchError):
    """A valid request with no work in it (an empty shard of a Slurm array): not a failure, so the
    CLI says so and exits 0."""


class RealBenchWarning(UserWarning):
    """Something unusual but usable (more than five references, recorded values being rescored);
    the CLI prints it as one ``warning:`` line."""


def describe(exc: BaseException, limit: int = 300) -> str:
    """``TypeName: first line of the message``, at most ``limit`` characters, cut at a word (the
    one way realbench summarises a library's exception in an error line; the traceback itself is
    shown under ``-vv``)."""
    lines = str(exc).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if len(first) > limit:
        cut = first[:limit].rsplit(" ", 1)[0]
        first = (cut if len(cut) > limit // 2 else first[:limit]) + " ..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
