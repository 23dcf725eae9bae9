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

import contextlib
import difflib
import functools
import hashlib
import io
import json
import logging
import os
import re
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .cache import cache_dir
from .download import fetch_url, hub_unreachable
from .errors import RealBenchError, describe
from .imageio import atomic_write_bytes
from .unzip import extract_zip

log = logging.getLogger(__name__)

Kind = Literal["url_file", "hf_repo", "dreamsim_bundle"]
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


@dataclass(frozen=True)
class Resolved:
    spec: WeightSpec
    path: Path
    source: str
    files: tuple[Path, ...] = ()  # the files that satisfied the needs

    @functools.cached_property
    def id(self) -> str:
        """``name@hash``: the hub commit when known, else a content hash of the needed files.
        Worked out once per resolution: every scene's protocol asks for it."""
        commit = _commit_of(self.path)
        if commit:
            return f"{self.spec.name}@{commit[:12]}"
        return f"{self.spec.name}@{content_hash(list(self.files) or [self.path])}"


class WeightsMissing(RealBenchError):
    """Pretrained weights that are not on this machine."""

    def __init__(self, spec: WeightSpec, looked: list[str]):
        super().__init__(
            f"weights '{spec.name}' ({spec.description}) not found; looked in: {'; '.join(looked)}. "
            f"Fetch them on a machine with internet: {spec.fetch_command()}"
        )
        self.spec = spec
        self.looked = list(looked)


def weights_dir() -> Path | None:
    value = os.environ.get("REALBENCH_WEIGHTS_DIR")
    return Path(value).expanduser() if value else None


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


# ---------------------------------------------------------------------- completeness

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


def _diffusers_needs(folder: Path) -> list[Need]:
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
        needs += _diffusers_needs(folder)
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


# ---------------------------------------------------------------------- resolution

def _hf_snapshot(repo_id: str) -> Path | None:
    """The folder of the hub cache's snapshot that ``refs/main`` points to."""
    from huggingface_hub import constants

    repo = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    try:
        commit = (repo / "refs" / "main").read_text().strip()
    except OSError:  # fetched by commit id only: the newest snapshot
        snapshots = sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime) if repo.is_dir() else []
        return snapshots[-1] if snapshots else None
    snapshot = repo / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None


def _candidates(spec: WeightSpec, explicit: str | None) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    if explicit:
        out.append(("explicit path", Path(explicit).expanduser()))
    root = weights_dir()
    if root is not None:
        out.append(("$REALBENCH_WEIGHTS_DIR", root / spec.name))
        if spec.kind == "url_file":
            out.append(("$REALBENCH_WEIGHTS_DIR", root))
    if spec.kind == "url_file":
        out.append(("torch hub cache", torch_hub_dir() / "checkpoints"))
    elif spec.kind == "hf_repo" and spec.repo_id:
        from huggingface_hub import constants

        snapshot = _hf_snapshot(spec.repo_id)
        cache = Path(constants.HF_HUB_CACHE) / f"models--{spec.repo_id.replace('/', '--')}"
        out.append(("huggingface cache", snapshot if snapshot is not None else cache))
    elif spec.kind == "dreamsim_bundle":
        out.append(("realbench cache", default_bundle_dir(spec.name)))
    return out


def resolve(name: str, overrides: Mapping[str, str] | None = None) -> Resolved:
    """Find weights ``name`` on this machine or raise ``WeightsMissing`` (never downloads)."""
    spec = get_spec(name)
    explicit = (overrides or {}).get(name)
    looked = []
    for source, path in _candidates(spec, explicit):
        if spec.kind == "url_file" and path.is_file():
            if file_complete(path):
                log.debug("weights %s: %s (%s)", name, path, source)
                return Resolved(spec, path, source, (path,))
            found, missing = [], [f"{path.name} is incomplete"]
        else:
            found, missing = check_folder(spec, path)
            if not missing:
                target = found[0] if spec.kind == "url_file" else path
                log.debug("weights %s: %s (%s)", name, target, source)
                return Resolved(spec, target, source, tuple(found))
        looked.append(str(path))
        if source == "explicit path":  # an explicit path that is wrong is an error, not a fallback
            raise RealBenchError(f"weights '{name}' not usable here: missing {'; '.join(missing)}", path=str(path))
    raise WeightsMissing(spec, looked)


def _commit_of(path: Path) -> str | None:
    """The hub commit of a snapshot folder, or of a ``local_dir`` download (its metadata files)."""
    parts = path.parts
    if "snapshots" in parts and parts.index("snapshots") + 1 < len(parts):
        return parts[parts.index("snapshots") + 1]
    meta = path / ".cache" / "huggingface" / "download"
    if meta.is_dir():
        for item in sorted(meta.rglob("*.metadata")):
            try:
                commit = item.read_text().splitlines()[0].strip()
            except (OSError, IndexError):
                continue
            if len(commit) == 40:
                return commit
    return None


# ---------------------------------------------------------------------- downloading

def _hf_files(spec: WeightSpec, available: set[str], folder_of) -> list[str]:
    """The files of a hub repository that loading needs: per need, its first alternative the
    repository has (plus shards of an index), whole tokenizer folders, optional extras."""
    chosen: list[str] = []
    needs = list(spec.needs)
    if spec.layout == "diffusers":
        if "model_index.json" not in available:
            raise RealBenchError(f"'{spec.repo_id}' has no model_index.json: not a diffusers pipeline repository")
        needs += _diffusers_needs(folder_of("model_index.json").parent)
    for need in needs:
        pick = next((alt for alt in need if alt in available), None)
        if pick is None:
            raise RealBenchError(f"'{spec.repo_id}' has none of {', '.join(need)}")
        chosen.append(pick)
        if pick.endswith(".index.json"):
            index = json.loads(folder_of(pick).read_text())
            parent = pick.rsplit("/", 1)[0] + "/" if "/" in pick else ""
            chosen += sorted({parent + shard for shard in index["weight_map"].values()})
        if pick.split("/")[0].startswith(("tokenizer", "feature_extractor")) and "/" in pick:
            top = pick.split("/")[0] + "/"
            chosen += sorted(f for f in available if f.startswith(top))
    chosen += [f for f in spec.optional if f in available]
    return list(dict.fromkeys(chosen))


def _download_hf(spec: WeightSpec, progress: bool) -> None:
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    root = weights_dir()
    local_dir = str(root / spec.name) if root is not None else None
    available = set(HfApi().list_repo_files(spec.repo_id))

    def folder_of(filename: str) -> Path:
        return Path(hf_hub_download(spec.repo_id, filename, local_dir=local_dir))

    files = _hf_files(spec, available, folder_of)
    snapshot_download(spec.repo_id, allow_patterns=files, local_dir=local_dir)


def _no_network(exc: BaseException) -> bool:
    """Whether a download failed because the network is not there (not a bad file or URL)."""
    import socket
    import urllib.error

    reason = getattr(exc, "reason", exc)
    return isinstance(reason, (socket.gaierror, ConnectionRefusedError, TimeoutError, socket.timeout)) or (
        isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError))


def download(name: str, progress: bool = True) -> Resolved:
    """Fetch weights ``name`` (needs internet) and return where they now are. Hub files resume
    per file (huggingface_hub restarts a file cut half-way), plain URLs resume per byte."""
    spec = get_spec(name)
    try:
        return resolve(name)
    except WeightsMissing:
        pass
    log.info("downloading weights %s from %s", name, spec.url or spec.repo_id)
    if spec.kind == "hf_repo" and spec.repo_id:
        reason = hub_unreachable(spec.repo_id)
        if reason:
            raise RealBenchError(f"weights '{name}': no network (cannot reach the Hugging Face hub: {reason})")
    try:
        if spec.kind == "url_file":
            root = weights_dir()
            folder = root if root is not None else torch_hub_dir() / "checkpoints"
            fetch_url(spec.url, folder / spec.filename, progress=progress)
        elif spec.kind == "hf_repo":
            if not spec.repo_id:
                raise RealBenchError(spec.fetch_command())
            _download_hf(spec, progress)
        else:
            _download_dreamsim(spec, progress)
    except RealBenchError as exc:
        raise RealBenchError(f"weights '{name}': {exc}") from None
    except Exception as exc:
        if _no_network(exc):
            raise RealBenchError(f"weights '{name}': no network ({describe(exc)})") from None
        raise RealBenchError(f"weights '{name}': download failed ({describe(exc)}); rerun the same command to "
                             "resume") from None
    return resolve(name)


def download_all(names: list[str], progress: bool = True) -> tuple[list[Resolved], list[str]]:
    """Try every name; (what is here now, one line per failure)."""
    done, failed = [], []
    for name in names:
        try:
            done.append(download(name, progress))
        except RealBenchError as exc:
            failed.append(str(exc))
    return done, failed


def _download_dreamsim(spec: WeightSpec, progress: bool) -> None:
    """What ``dreamsim(pretrained=True, cache_dir=DIR)`` does, made resumable: the release zip
    (resumable, unpacked atomically), then the package itself fetches DINO's torch-hub repository
    and checkpoint into the same folder while it loads."""
    folder = default_bundle_dir(spec.name)
    archive_needs = [n for n in spec.needs if not n[0].startswith(("facebookresearch_dino_main", "checkpoints/"))]
    if any(not any(file_complete(folder / alt) for alt in need) for need in archive_needs):
        archive = fetch_url(spec.url, folder / "pretrained.zip", progress=progress)
        extract_zip(archive, folder)
    load_dreamsim_package(folder, "cpu")


def load_dreamsim_package(folder: Path, device) -> object:
    """``dreamsim(pretrained=True, cache_dir=folder)``, without its side effects: it points
    torch.hub at ``folder`` for good and prints to stdout, so both are undone here."""
    import torch
    from dreamsim import dreamsim

    old_hub = torch.hub._hub_dir
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            model, _ = dreamsim(pretrained=True, device=str(device), cache_dir=str(folder))
    finally:
        torch.hub._hub_dir = old_hub
    return model


def content_hash(paths: list[Path]) -> str:
    """sha256 (first 12 hex) of files (a folder: all its files), cached by path, size and mtime."""
    files: list[Path] = []
    for path in paths:
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    stamp = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    key = hashlib.sha256(json.dumps(stamp).encode()).hexdigest()
    store = cache_dir() / "weight-hashes.json"
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    for p in files:
        with open(p, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    known[key] = digest.hexdigest()[:12]
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(store, json.dumps(known).encode())
    except OSError:
        pass
    return known[key]
