"""What a named set of pretrained weights is and where it is looked for: ``WeightSpec`` says what a
usable copy must contain (groups of files, each satisfied by its first alternative present), the
plugins that need weights register theirs (``register_weights``), and any Hugging Face hub id is a
spec of its own. The core knows how weights come (a file at a URL, a hub repository, a diffusers
pipeline, or a folder a package's own loader fills through the spec's ``fetch``), not which exist."""
from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from realbench.core.cache import cache_dir
from realbench.core.errors import RealBenchError
from realbench.core.paths import expand_user

Kind = Literal["url_file", "hf_repo", "bundle"]
Need = tuple[str, ...]  # alternatives for one required file, the first preferred

# diffusers components never loaded by realbench (pipelines are built with safety_checker=None)
SKIPPED_COMPONENTS = ("safety_checker",)
MODEL_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json",
                 "diffusion_pytorch_model.bin", "diffusion_pytorch_model.bin.index.json", "model.safetensors",
                 "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class WeightSpec:
    """One named set of pretrained weights and what a usable copy of it contains."""

    name: str
    kind: Kind
    description: str
    repo_id: str | None = None
    url: str | None = None
    needs: tuple[Need, ...] = ()
    optional: tuple[str, ...] = ()  # fetched when the repository has them, never required
    layout: Literal["files", "diffusers"] = "files"  # diffusers: more needs from model_index.json
    whole_folders: tuple[str, ...] = field(default=())  # folders fetched entirely (tokenizers)
    # kind "bundle": fills default_bundle_dir(name) the way the package that reads it expects
    # (e.g. DreamSim's release zip, then the dreamsim package fetching DINO); given by the plugin
    fetch: Callable[[WeightSpec, Path, bool], None] | None = field(default=None, compare=False, repr=False)

    @property
    def filename(self) -> str:
        return self.needs[0][0]

    def fetch_command(self) -> str:
        if self.kind == "hf_repo" and not self.repo_id:
            return (f"no public download known: put {'; '.join(' or '.join(n) for n in self.needs)} in "
                    f"$REALBENCH_WEIGHTS_DIR/{self.name}/")
        return f"realbench weights download {self.name}"


# Filled by the plugins that need weights (a metric, a method, the matcher) when they are imported:
# the core knows how to find and fetch weights, not which ones exist.
SPECS: dict[str, WeightSpec] = {}


def register_weights(spec: WeightSpec) -> WeightSpec:
    SPECS[spec.name] = spec
    return spec


def diffusers_model(repo_id: str, description: str) -> WeightSpec:
    """A diffusers pipeline repository: its components are read from ``model_index.json``."""
    return WeightSpec(repo_id, "hf_repo", description, repo_id=repo_id, needs=(("model_index.json",),),
                      layout="diffusers")


def weights_dir() -> Path | None:
    value = os.environ.get("REALBENCH_WEIGHTS_DIR")
    return expand_user(value) if value else None


def default_bundle_dir(name: str) -> Path:
    return (weights_dir() or cache_dir() / "weights") / name


def torch_hub_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir())


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def is_hub_id(text: str) -> bool:
    """``owner/name`` as the Hugging Face hub spells repository ids (not a path)."""
    return bool(_HUB_ID.fullmatch(text)) and ".." not in text


def get_spec(name: str) -> WeightSpec:
    if name in SPECS:
        return SPECS[name]
    if is_hub_id(name):  # any hub repository works (a typo fails at download, naming the repository)
        return register_weights(diffusers_model(name, f"diffusers model {name}"))
    close = difflib.get_close_matches(name, list(SPECS), n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise RealBenchError(f"unknown weights '{name}'.{hint} Known: {', '.join(sorted(SPECS))}.")
