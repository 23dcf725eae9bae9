"""Old import paths, kept for one release: realbench's modules moved into one folder per layer
(``realbench.errors`` is now ``realbench.core.errors``, ``realbench.runview`` is
``realbench.summarise.runview``, ...). A plugin importing an old path gets the new module and one
``DeprecationWarning`` naming the new path. The finder is consulted only after the normal import
machinery found nothing, so it never shadows a real module."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

LAYERS = {
    "core": ("errors", "paths", "fields", "jsonio", "yamlio", "registry", "settings", "scene", "provenance", "cache",
             "compositing", "devices", "resources", "imageio", "unzip", "download"),
    "data": ("loading", "hfdata", "archive", "sample_data"),
    "run": ("runconfig", "planning", "runner", "worker", "executors", "components", "runfolder", "records", "runlock",
            "merging", "naming", "presets", "eta", "runmeta"),
    "summarise": ("runview", "summary", "stats", "formatting", "tablefiles", "latex", "leaderboards", "paper", "checks",
                  "comparison", "results", "report", "tables"),
}
MOVED = {f"realbench.{m}": f"realbench.{layer}.{m}" for layer, mods in LAYERS.items() for m in mods}
MOVED.update({"realbench.merge": "realbench.run.merging", "realbench.selection": "realbench.selection.correspondences",
              "realbench.benchmarks": "realbench.data.benchmarks",
              "realbench.benchmarks.realbench": "realbench.data.benchmarks.realbench",
              "realbench.benchmarks.realfill_qualitative": "realbench.data.benchmarks.realfill_qualitative"})


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str):
        self.new = new

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {self.new}; import it from there (the old path goes in the next "
                      "release)", DeprecationWarning, stacklevel=3)
        return importlib.import_module(self.new)

    def exec_module(self, module) -> None:  # the real module is already executed
        pass


class MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED and fullname != "realbench.selection":
            return importlib.util.spec_from_loader(fullname, _Alias(MOVED[fullname]))
        return None


def install() -> None:
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedFinder())
