"""Where every pretrained file the project uses comes from, offline first, and how it is fetched.

Each named weight (``WeightSpec``) says what a usable copy must contain: groups of files, each
group satisfied by its first alternative that is present *and complete* (a safetensors header
that matches the file size, a torch zip archive with its central directory, JSON that parses),
so a download interrupted half-way never counts as present. Search order: an explicit path
(``--weights NAME=PATH``), ``$REALBENCH_WEIGHTS_DIR``, then the caches the real packages use
(torch hub checkpoints, the Hugging Face hub cache, realbench's own cache for the DreamSim
bundle). Nothing is downloaded implicitly: a missing weight is a ``WeightsMissing`` error naming
the command that fetches it, ``realbench weights download NAME``, which downloads only what
loading needs (no duplicate precisions, no single-file checkpoints, no safety checker).
"""
from __future__ import annotations

from .complete import check_folder, file_complete, needs_of
from .fetch import download, download_all
from .resolve import Resolved, WeightsMissing, content_hash, resolve
from .specs import (
    SPECS,
    WeightSpec,
    default_bundle_dir,
    diffusers_model,
    get_spec,
    is_hub_id,
    register_weights,
    torch_hub_dir,
    weights_dir,
)

__all__ = ["SPECS", "Resolved", "WeightSpec", "WeightsMissing", "check_folder", "content_hash", "default_bundle_dir",
           "diffusers_model", "download", "download_all", "file_complete", "get_spec", "is_hub_id", "needs_of",
           "register_weights", "resolve", "torch_hub_dir", "weights_dir"]
