"""Counts as people write them: ``1 scene``, ``6 scenes`` (never ``scene(s)``)."""
from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 sample``, ``6 samples``; ``plural`` for a noun whose plural is not noun + s."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
