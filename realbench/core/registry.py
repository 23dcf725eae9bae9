"""Name -> implementation registries, filled by the plugins themselves.

Modelled on lm-evaluation-harness: a plugin registers with a decorator in its own module
(``@METHODS.register("telea")``), and the registry discovers its package's modules the first
time a name is asked for, so adding a method, a metric, a benchmark or a base model is one new
file. Plugins keep heavy imports (torch, diffusers) inside their functions, so discovery stays
cheap. An unknown name fails with a "did you mean" hint; ``"package.module:attr"`` reaches a
user's own implementation outside the package.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
import warnings
from collections.abc import Callable
from typing import Any

from .errors import RealBenchError, RealBenchWarning, describe


class Registry:
    """A mapping from names to objects, registered with ``register`` by modules of ``package``
    (imported on first use) or added lazily with ``add_lazy("name", "module:attr")``."""

    def __init__(self, kind: str, package: str | None = None):
        self.kind = kind
        self.package = package
        self._objects: dict[str, Any] = {}
        self._lazy: dict[str, str] = {}
        self._broken: dict[str, str] = {}  # plugin module -> why it failed to import
        self._discovered = package is None

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: ``@REGISTRY.register("name")`` on a class or function (or call it on an object)."""

        def wrap(obj: Any) -> Any:
            self._objects[name] = obj
            self._lazy.pop(name, None)
            return obj

        return wrap

    def add_lazy(self, name: str, target: str) -> None:
        """Register ``name`` to be imported from ``"package.module:attr"`` on first use."""
        if name not in self._objects:
            self._lazy[name] = target

    def _discover(self) -> None:
        """Import every public module of the registry's package once; each registers its entries.
        A module that fails to import is reported (a warning, and in "unknown" errors), and every
        other plugin stays usable."""
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(str(self.package))
        for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if module.name.startswith("_"):
                continue
            name = f"{self.package}.{module.name}"
            try:
                importlib.import_module(name)
            except Exception as exc:  # a broken plugin file: any error its import raises
                self._broken[name] = describe(exc, 200)
                warnings.warn(f"{self.kind} plugin {name} failed to import ({self._broken[name]}); the other "
                              f"{self.kind}s are usable", RealBenchWarning, stacklevel=3)

    def names(self) -> list[str]:
        self._discover()
        return sorted(set(self._objects) | set(self._lazy))

    def __contains__(self, name: str) -> bool:
        self._discover()
        return name in self._objects or name in self._lazy

    def get(self, name: str) -> Any:
        if name not in self._objects and name not in self._lazy and ":" not in name:
            self._discover()
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
        broken = "".join(f" Failed to import: {module} ({why})." for module, why in self._broken.items())
        return f"unknown {self.kind} '{name}'.{hint} Known: {', '.join(self.names())}.{broken}"
