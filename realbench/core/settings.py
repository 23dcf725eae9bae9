"""Typed settings for methods, metrics and seed selection: a dataclass per plugin.

Every field has a type and, where it matters, a range, a set of choices or a step (``setting(...)``).
``parse_settings`` merges dotted or nested user overrides (``--set train.steps=2``) into the
defaults and checks them all before any work: an unknown key (with a "did you mean"), a wrong type
(``radius=abc``) or a value out of range (``radius=-4``) is one ``RealBenchError``. A plugin that
still declares a plain ``default_config`` dict gets a dataclass inferred from its values' types.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, make_dataclass
from typing import Any, Literal, Union, cast, get_args, get_origin

from .errors import RealBenchError
from .fields import brief


def setting(default: Any = MISSING, *, min: float | None = None, max: float | None = None,
            above: float | None = None, below: float | None = None, choices: tuple | None = None,
            multiple_of: int | None = None, help: str = "", since: str | None = None) -> Any:
    """A dataclass field with its checks: ``min``/``max`` inclusive, ``above``/``below`` exclusive.
    ``since``: the realbench version that added the setting; at its default it is left out of the
    run's identity (``identity_config``), so runs made before it existed keep their config hash."""
    metadata = {"min": min, "max": max, "above": above, "below": below, "choices": choices,
                "multiple_of": multiple_of, "help": help, "since": since}
    if isinstance(default, (list, dict)) or is_dataclass(default):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def nested(cls: type) -> Any:
    """A nested settings group (e.g. RealFill's ``train``)."""
    return field(default_factory=cls)


UNIONS = (Union, types.UnionType)  # Optional[int] and int | None alike


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in UNIONS:
        args = [a for a in get_args(tp) if a is not type(None)]
        base = "a number" if set(args) == {int, float} else " or ".join(_type_name(a) for a in args)
        return base + (" or null" if type(None) in get_args(tp) else "")
    if origin in (list, tuple):
        return f"a list of {_type_name(get_args(tp)[0])}s" if get_args(tp) else "a list"
    return {bool: "true or false", int: "an integer", float: "a finite number", str: "text"}.get(
        tp, getattr(tp, "__name__", str(tp)))


class _Invalid(Exception):
    pass


def _coerce(value: Any, tp: Any) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in UNIONS:
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option)
            except _Invalid:
                continue
        raise _Invalid
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise _Invalid
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _Invalid
        inner = get_args(tp)[0] if get_args(tp) else Any
        return [_coerce(v, inner) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Invalid
    if tp is int:
        if isinstance(value, bool):
            raise _Invalid
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise _Invalid
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _Invalid
        return float(value)
    if tp is str:
        if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
            raise _Invalid
        return str(value)
    return value


INT_LIMIT = 2**31 - 1


def _check_range(value: Any, meta: dict, where: str) -> None:
    def fail(rule: str) -> None:
        raise RealBenchError(f"{where} must be {rule}, got {brief(value)}")

    if value is None or isinstance(value, (list, str, bool)):
        if meta.get("choices") is not None and value not in meta["choices"]:
            fail("one of " + ", ".join(repr(c) for c in meta["choices"]))
        return
    if isinstance(value, int) and not -INT_LIMIT <= value <= INT_LIMIT:  # what C code (OpenCV, torch) can hold
        fail(f"between {-INT_LIMIT:,} and {INT_LIMIT:,}")
    if meta.get("min") is not None and value < meta["min"]:
        fail(f">= {meta['min']:g}")
    if meta.get("max") is not None and value > meta["max"]:
        fail(f"<= {meta['max']:g}")
    if meta.get("above") is not None and value <= meta["above"]:
        fail(f"> {meta['above']:g}")
    if meta.get("below") is not None and value >= meta["below"]:
        fail(f"< {meta['below']:g}")
    if meta.get("multiple_of") and value % meta["multiple_of"]:
        fail(f"a multiple of {meta['multiple_of']}")
    if meta.get("choices") is not None and value not in meta["choices"]:
        fail("one of " + ", ".join(repr(c) for c in meta["choices"]))


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def known_keys(cls: type, prefix: str = "") -> list[str]:
    out = []
    for f in fields(cls):
        tp = _hints(cls)[f.name]
        if is_dataclass(tp):
            out += known_keys(cast(type, tp), f"{prefix}{f.name}.")
        else:
            out.append(f"{prefix}{f.name}")
    return out


def parse_settings(cls: type, overrides: dict[str, Any] | None, owner: str) -> Any:
    """An instance of settings dataclass ``cls`` with ``overrides`` applied and every value checked."""
    if overrides is not None and not isinstance(overrides, dict):
        raise RealBenchError(f"{owner}: settings must be a mapping of names to values, got {type(overrides).__name__}")
    values = dataclasses.asdict(cls())
    for key, value in flatten(overrides or {}).items():
        node, node_cls, parts = values, cls, str(key).split(".")
        for depth, part in enumerate(parts):
            hints = _hints(node_cls)
            if part not in hints:
                known = known_keys(cls)
                close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
                hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise RealBenchError(f"{owner} has no setting '{key}'.{hint} Settings: {', '.join(known) or 'none'}.")
            if depth == len(parts) - 1:
                if is_dataclass(hints[part]):
                    raise RealBenchError(f"{owner}: '{key}' is a group of settings; set its members, e.g. "
                                         f"{known_keys(hints[part], key + '.')[0]}=...")
                node[part] = value
            else:
                if not is_dataclass(hints[part]):
                    raise RealBenchError(f"{owner}: setting '{'.'.join(parts[:depth + 1])}' "
                                         f"has no member '{parts[depth + 1]}'")
                node, node_cls = node[part], hints[part]
    return _build(cls, values, owner, "")


def _build(cls: type, values: dict[str, Any], owner: str, prefix: str) -> Any:
    hints = _hints(cls)
    kwargs = {}
    for f in fields(cls):
        tp, value, where = hints[f.name], values.get(f.name), f"{owner}: setting '{prefix}{f.name}'"
        if is_dataclass(tp):
            kwargs[f.name] = _build(cast(type, tp), value or {}, owner, f"{prefix}{f.name}.")
            continue
        try:
            value = _coerce(value, tp)
        except _Invalid:
            raise RealBenchError(f"{where} must be {_type_name(tp)}, got {brief(value)}") from None
        _check_range(value, dict(f.metadata), where)
        kwargs[f.name] = value
    return cls(**kwargs)


def _inferred_type(value: Any) -> Any:
    if isinstance(value, bool):
        return bool
    if isinstance(value, int):  # an int default may still mean any number: ints stay ints (stable hashes)
        return Union[int, float]  # noqa: UP007
    if isinstance(value, float):
        return float
    if isinstance(value, str):
        return str
    if isinstance(value, (list, tuple)):
        kinds = {_inferred_type(v) for v in value}
        return list[kinds.pop()] if len(kinds) == 1 else list  # type: ignore[misc]
    return Any


def settings_from_defaults(defaults: dict[str, Any], name: str) -> type:
    """A settings dataclass inferred from a plain defaults dict (plugins written before settings
    were typed): each value's type is the field's type; ``None`` accepts anything."""
    specs = []
    for key, value in defaults.items():
        if isinstance(value, dict):
            sub = settings_from_defaults(value, f"{name}_{key}")
            specs.append((key, sub, field(default_factory=sub)))
        else:
            tp = _inferred_type(value)
            specs.append((key, tp, setting(value)))
    return make_dataclass(name, specs, frozen=False)


def as_dict(settings: Any) -> dict[str, Any]:
    return dataclasses.asdict(settings)


def identity_config(cls: type, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the settings added later (``since``) that hold their default: the part
    of a config that identifies a run, stable across releases that add settings."""
    out = {}
    defaults = cls()
    hints = _hints(cls)
    for f in fields(cls):
        if f.name not in config:
            continue
        value = config[f.name]
        if is_dataclass(hints[f.name]) and isinstance(value, dict):
            out[f.name] = identity_config(hints[f.name], value)
        elif f.metadata.get("since") is None or value != getattr(defaults, f.name):
            out[f.name] = value
    return out


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, Any, str]]:
    """(key, type, default, help) of every setting, for ``realbench methods NAME``."""
    out = []
    defaults = cls()
    for f in fields(cls):
        tp = _hints(cls)[f.name]
        if is_dataclass(tp):
            out += describe(cast(type, tp), f"{prefix}{f.name}.")
        else:
            out.append((f"{prefix}{f.name}", _type_name(tp), getattr(defaults, f.name), f.metadata.get("help", "")))
    return out


# a number whose default is written as an int stays an int (stable config hashes)
Number = Union[int, float]  # noqa: UP007

__all__ = ["Number", "as_dict", "dataclass", "describe", "nested", "parse_settings", "setting",
           "settings_from_defaults"]
