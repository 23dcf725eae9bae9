"""Name -> implementation registries with lazy ``"module:attr"`` entries.

Modelled on lm-evaluation-harness: heavy modules (torch, diffusers) are imported only when an
entry is actually used, and an unknown name fails with a "did you mean" hint.
"""
from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable

from .errors import RealBenchError


class Registry:
    """A mapping from names to objects, filled eagerly (``register``) or lazily (``add_lazy``)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._objects: dict[str, Any] = {}
        self._lazy: dict[str, str] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: ``@REGISTRY.register("name")`` on a class or function."""

        def wrap(obj: Any) -> Any:
            self._objects[name] = obj
            self._lazy.pop(name, None)
            return obj

        return wrap

    def add_lazy(self, name: str, target: str) -> None:
        """Register ``name`` to be imported from ``"package.module:attr"`` on first use."""
        if name not in self._objects:
            self._lazy[name] = target

    def names(self) -> list[str]:
        return sorted(set(self._objects) | set(self._lazy))

    def __contains__(self, name: str) -> bool:
        return name in self._objects or name in self._lazy

    def get(self, name: str) -> Any:
        if name in self._objects:
            return self._objects[name]
        if name in self._lazy:
            module_name, attr = self._lazy[name].split(":")
            obj = getattr(importlib.import_module(module_name), attr)
            self._objects[name] = obj
            del self._lazy[name]
            return obj
        if ":" in name:  # a user's own implementation: "package.module:Class"
            module_name, attr = name.split(":", 1)
            try:
                return getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise RealBenchError(f"cannot import {self.kind} '{name}' ({exc})") from None
        raise RealBenchError(self.unknown_message(name))

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown {self.kind} '{name}'.{hint} Known: {', '.join(self.names())}."
