"""Default run folder names that cannot collide: every part of a run's identity that differs from
the plain run is in the name (``runs/telea-sample``, ``runs/telea-3f1c2a-sample-seed5``,
``runs/homography-warp-RealBench-shard-2of3``), so variants, subsets and the tasks of a Slurm array
each get their own folder without ``--out``."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from realbench.core.settings import flatten

from .runconfig import RunConfig
from .runmeta import RunMeta

RUNS = Path("runs")
SHARD_SUFFIX = re.compile(r"-shard-(\d+)of(\d+)$")


def slug(text: str, limit: int = 48) -> str:
    """``text`` as one portable folder-name part."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.")[:limit].strip("-.") or "run"


def _method_part(config: RunConfig) -> str:
    if config.label:
        part = slug(config.label)  # a label the folder name cannot hold as it is gets its own hash
        return part if part == config.label else f"{part}-{hashlib.sha256(config.label.encode()).hexdigest()[:6]}"
    if config.method.startswith("folder:"):
        return "folder-" + slug(Path(config.method[7:]).name or "outputs")
    return slug(config.method)


def default_out(config: RunConfig, adapter: Any, bench: Any, shard: tuple[int, int] | None, meta: RunMeta) -> Path:
    """``runs/<label or method>[-<config hash>]-<data>[-seedS][-refsK][-<split>][-Nscenes-<hash>][-shard-IofN]``:
    the config hash only when the method's settings differ from its defaults (folder:PATH always,
    its path is a setting)."""
    parts = [_method_part(config)]
    if flatten(adapter.config) != flatten(type(adapter).default_config):
        parts.append(meta.config_hash[:6])
    parts.append(slug(bench.name))
    if config.seed:
        parts.append(f"seed{config.seed}")
    if config.max_refs:
        parts.append(f"refs{config.max_refs}")
    if meta.data.split and meta.data.split != "all":
        parts.append(slug(meta.data.split))
    if config.scenes is not None:
        chosen = ",".join(sorted(config.scenes))
        parts.append(f"{len(config.scenes)}scenes-{hashlib.sha256(chosen.encode()).hexdigest()[:6]}")
    if shard is not None:
        parts.append(f"shard-{shard[0]}of{shard[1]}")
    return RUNS / "-".join(parts)


def unsharded_name(folder: Path) -> Path | None:
    """The folder a set of default-named shard folders merges into (``...-shard-2of3`` -> ``...``)."""
    match = SHARD_SUFFIX.search(folder.name)
    return folder.with_name(folder.name[:match.start()]) if match else None
