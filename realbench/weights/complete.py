"""Whether a copy of weights is complete: a safetensors header that matches the file size, a torch
zip archive with its central directory, JSON that parses, every component a diffusers
``model_index.json`` lists; a download interrupted half-way never counts as present."""
from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

from .specs import MODEL_WEIGHTS, SKIPPED_COMPONENTS, Need, WeightSpec


def file_complete(path: Path) -> bool:
    """True if ``path`` is a whole file of its format (cheap checks, no full read)."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if not path.is_file() or size == 0:
        return False
    name = path.name
    try:
        if name.endswith(".index.json"):
            index = json.loads(path.read_text())
            shards = set((index.get("weight_map") or {}).values())
            return bool(shards) and all(file_complete(path.parent / shard) for shard in shards)
        if name.endswith(".json"):
            json.loads(path.read_text())
            return True
        if name.endswith(".safetensors"):
            with open(path, "rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                if length > size - 8:
                    return False
                header = json.loads(handle.read(length))
            ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
            return size == 8 + length + max(ends, default=0)
        if name.endswith((".pth", ".bin", ".ckpt", ".pt", ".tar")):
            with open(path, "rb") as handle:
                magic = handle.read(4)
            if magic[:2] == b"PK":  # torch's zip serialisation: the central directory must be there
                with zipfile.ZipFile(path) as archive:
                    return bool(archive.namelist())
            return magic[:1] == b"\x80"  # legacy pickle format: nothing more to check cheaply
    except (OSError, ValueError, KeyError, TypeError, struct.error, zipfile.BadZipFile):
        return False
    return True


def diffusers_needs(folder: Path) -> list[Need]:
    index_path = folder / "model_index.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        return []
    needs: list[Need] = []
    for component, value in index.items():
        if component.startswith("_") or component in SKIPPED_COMPONENTS or not isinstance(value, list):
            continue
        if value[0] is None:
            continue
        if component.startswith("scheduler"):
            needs.append((f"{component}/scheduler_config.json",))
        elif component.startswith("tokenizer"):
            needs.append((f"{component}/tokenizer_config.json",))
        elif component.startswith(("feature_extractor", "image_processor")):
            needs.append((f"{component}/preprocessor_config.json",))
        else:
            needs.append((f"{component}/config.json",))
            needs.append(tuple(f"{component}/{name}" for name in MODEL_WEIGHTS))
    return needs


def needs_of(spec: WeightSpec, folder: Path | None = None) -> list[Need]:
    """Every required file group, including those a diffusers ``model_index.json`` implies."""
    needs = list(spec.needs)
    if spec.layout == "diffusers" and folder is not None:
        needs += diffusers_needs(folder)
    return needs


def check_folder(spec: WeightSpec, folder: Path) -> tuple[list[Path], list[str]]:
    """(files satisfying the needs, descriptions of unmet needs) for a candidate folder."""
    found, missing = [], []
    for need in needs_of(spec, folder):
        match = next((folder / alt for alt in need if file_complete(folder / alt)), None)
        if match is None:
            missing.append(" or ".join(need))
        else:
            found.append(match)
    if spec.layout == "diffusers" and not (folder / "model_index.json").is_file():
        missing.append("the components listed in model_index.json")
    return found, missing
