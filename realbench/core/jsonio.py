"""Strict JSON in and out, with a size limit on what is read.

Files that programs read (run.json, records, results.json, leaderboards) must parse in every JSON
parser, so nothing realbench writes holds ``NaN`` or ``Infinity``: a non-finite number becomes
``null`` (the writer of a field says why next to it, e.g. ``metric_errors``). Reading refuses a
file larger than its limit before reading it, so a hostile ``run.json`` of gigabytes (or
``/dev/zero``) costs nothing.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from .errors import RealBenchError
from .paths import printable

MAX_JSON_BYTES = 64 * 2**20  # run.json, results.json, manifests: a few KB to a few MB in practice


def finite_or_none(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None and numpy scalars made plain."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item) and type(obj).__module__ == "numpy":
        return finite_or_none(item())
    return obj


_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(obj: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """Strict JSON text (no NaN/Infinity, UTF-8 characters kept); a lone surrogate (an undecodable
    byte of a file name) is written as its ``\\uXXXX`` escape, so the text can always be saved."""
    text = json.dumps(finite_or_none(obj), indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False,
                      default=str)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class DuplicateKey(ValueError):
    """An object naming a key twice: parsers disagree on which value wins (Python's: the last),
    so a file holding one says two things and is refused. ``line``: where the second one is."""

    def __init__(self, key: str, line: int | None = None):
        self.key, self.line = key, line
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}the key '{printable(key)[:60]}' appears twice in one object")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _skip(text: str, index: int) -> int:
    return _WHITESPACE.match(text, index).end()  # type: ignore[union-attr]


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _duplicate_line(text: str) -> int | None:
    """The line of the first repeated key, found by a second, slower parse that knows where every
    key starts (only run once the fast parser found a repetition); None if it cannot tell."""
    found: list[int] = []

    def parse_object(s_and_end, strict, scan_once, *_):
        s, end = s_and_end
        seen: set[str] = set()
        end = _skip(s, end)
        while s[end] != "}":
            start = end
            key, end = json.decoder.scanstring(s, end + 1, strict)
            if key in seen and not found:
                found.append(start)
            seen.add(key)
            _, end = scan_once(s, _skip(s, _skip(s, end) + 1))
            end = _skip(s, end)
            if s[end] == ",":
                end = _skip(s, end + 1)
        return {}, end + 1

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    try:
        decoder.decode(text)
    except (ValueError, RecursionError, IndexError, StopIteration):
        return None
    return text.count("\n", 0, found[0]) + 1 if found else None


def loads(text: str | bytes, allow_nan: bool = False) -> Any:
    """Parse JSON; ``NaN``/``Infinity`` are refused unless ``allow_nan`` (files of older versions),
    and so is an object with a duplicate key (``DuplicateKey``, naming its line)."""
    try:
        if allow_nan:
            return json.loads(text, object_pairs_hook=_unique_keys)
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except DuplicateKey as exc:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        raise DuplicateKey(exc.key, _duplicate_line(decoded)) from None


def read_json(path: str | Path, what: str, max_bytes: int = MAX_JSON_BYTES, allow_nan: bool = False) -> Any:
    """The parsed content of a JSON file, or one error naming it (missing, too large, not UTF-8,
    not JSON)."""
    path = Path(path)
    try:
        if not path.is_file():
            raise RealBenchError(f"{what} is missing or not a file", path=str(path))
        size = path.stat().st_size
        if size > max_bytes:
            raise RealBenchError(f"{what} is {size / 2**20:.0f} MiB, above the limit of {max_bytes / 2**20:.0f} MiB "
                                 "for this kind of file", path=str(path))
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:  # a file that grows while read, or a device such as /dev/zero
            raise RealBenchError(f"{what} is larger than {max_bytes / 2**20:.0f} MiB", path=str(path))
        return loads(data.decode("utf-8"), allow_nan=allow_nan)
    except RealBenchError:
        raise
    except UnicodeDecodeError:
        raise RealBenchError(f"{what} is not UTF-8 text", path=str(path)) from None
    except DuplicateKey as exc:
        raise RealBenchError(f"{what} is not valid JSON: {exc}", path=str(path)) from None
    except (ValueError, RecursionError) as exc:
        raise RealBenchError(f"{what} is not valid JSON ({str(exc)[:120]})", path=str(path)) from None
    except OSError as exc:
        raise RealBenchError(f"cannot read {what} ({exc.strerror or exc})", path=str(path)) from None
