"""Reading typed fields out of parsed JSON or YAML, with one clear error per wrong field.

Run files, records, manifests and baselines come from disk, so any field can hold anything: a
string where a number belongs, ``true`` as a metric value, a list where a mapping belongs, or a
structure built to explode when printed (YAML aliases). ``FieldReader`` checks each field's type
(``bool`` is never a number), refuses non-finite numbers, and names the file, the place in it and
the field; ``brief`` describes a value in bounded length without walking it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import RealBenchError
from .paths import printable

MISSING: Any = object()


def brief(value: Any, limit: int = 60) -> str:
    """A short description of ``value`` that never walks a container (an aliased YAML list of
    9^9 elements costs nothing here)."""
    if isinstance(value, str):
        text = printable(value)
        return repr(text if len(text) <= limit else text[:limit] + "...")
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)[:limit]
    if isinstance(value, Mapping):
        return f"a mapping of {len(value)} key(s)"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item(s)"
    return f"a {type(value).__name__}"


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class FieldReader:
    """Typed access to a mapping parsed from ``path`` (``where``: e.g. "line 12" or "run.json")."""

    def __init__(self, obj: Any, where: str, path: str | None):
        self.where, self.path = where, path
        if not isinstance(obj, Mapping):
            self.fail(f"must be a JSON object, got {brief(obj)}")
        self.obj = obj

    def fail(self, message: str) -> None:
        raise RealBenchError(f"{self.where}: {message}", path=self.path)

    def _get(self, key: str, default: Any) -> Any:
        if key in self.obj:
            return self.obj[key]
        if default is MISSING:
            self.fail(f"field '{key}' is missing")
        return default

    def _wrong(self, key: str, kind: str, value: Any) -> None:
        self.fail(f"field '{key}' must be {kind}, got {brief(value)}")

    def text(self, key: str, default: Any = MISSING, nullable: bool = False) -> Any:
        value = self._get(key, default)
        if value is None and (nullable or default is None):
            return None
        if not isinstance(value, str):
            self._wrong(key, "text", value)
        return value

    def integer(self, key: str, default: Any = MISSING, minimum: int | None = None, nullable: bool = False,
                maximum: int | None = None) -> Any:
        value = self._get(key, default)
        if value is None and (nullable or default is None):
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, "a whole number", value)
        if minimum is not None and value < minimum:
            self._wrong(key, f"a whole number >= {minimum}", value)
        if maximum is not None and value > maximum:
            self._wrong(key, f"a whole number <= {maximum}", value)
        return value

    def number(self, key: str, default: Any = MISSING, nullable: bool = False) -> Any:
        value = self._get(key, default)
        if value is None and (nullable or default is None):
            return None
        if not is_number(value) or not math.isfinite(value):
            self._wrong(key, "a finite number", value)
        return float(value)

    def boolean(self, key: str, default: Any = MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self._wrong(key, "true or false", value)
        return value

    def mapping(self, key: str, default: Any = MISSING, nullable: bool = False) -> Any:
        value = self._get(key, default)
        if value is None and (nullable or default is None):
            return None
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            self._wrong(key, "a mapping with text keys", value)
        return dict(value)

    def texts(self, key: str, default: Any = MISSING, nullable: bool = False) -> Any:
        value = self._get(key, default)
        if value is None and (nullable or default is None):
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._wrong(key, "a list of texts", value)
        return list(value)

    def text_mapping(self, key: str, default: Any = MISSING) -> dict[str, str]:
        value = self.mapping(key, default)
        if value is None:
            return {}
        for name, item in value.items():
            if not isinstance(item, str):
                self.fail(f"field '{key}.{printable(name)}' must be text, got {brief(item)}")
        return value

    def count_mapping(self, key: str, default: Any = MISSING, maximum: int | None = None) -> dict[str, int] | None:
        """A mapping of names to whole numbers of at least 1 (e.g. samples per scene)."""
        value = self.mapping(key, default)
        if value is None:
            return None
        for name, item in value.items():
            if isinstance(item, bool) or not isinstance(item, int) or item < 1 or (maximum and item > maximum):
                self.fail(f"field '{key}.{printable(name)}' must be a whole number from 1"
                          f"{f' to {maximum}' if maximum else ''}, got {brief(item)}")
        return dict(value)

    def mapping_of_mappings(self, key: str, default: Any = MISSING) -> dict[str, dict[str, Any]]:
        value = self.mapping(key, default)
        if value is None:
            return {}
        for name, item in value.items():
            if not isinstance(item, Mapping):
                self.fail(f"field '{key}.{printable(name)}' must be a mapping, got {brief(item)}")
        return {k: dict(v) for k, v in value.items()}


def text_list(value: str | Sequence[str] | None) -> list[str] | None:
    """``"psnr, ssim"`` (as on the command line) or a list, as a list of non-empty names."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    return [str(item).strip() for item in items if str(item).strip()]
