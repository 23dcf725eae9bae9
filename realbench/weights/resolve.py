"""Finding weights on this machine, offline first, never downloading: an explicit path
(``--weights NAME=PATH``), ``$REALBENCH_WEIGHTS_DIR``, then the caches the real packages use (torch
hub checkpoints, the Hugging Face hub cache, realbench's cache for bundles). A missing weight is a
``WeightsMissing`` error naming where it looked and the command that fetches it."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from realbench.core.cache import cache_dir
from realbench.core.errors import RealBenchError
from realbench.core.files import atomic_write_bytes
from realbench.core.paths import expand_user, printable

from .complete import check_folder, file_complete
from .specs import WeightSpec, default_bundle_dir, get_spec, torch_hub_dir, weights_dir

log = logging.getLogger(__name__)


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
        out.append(("explicit path", expand_user(explicit)))
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
    elif spec.kind == "bundle":
        out.append(("realbench cache", default_bundle_dir(spec.name)))
    return out


def resolve(name: str, overrides: Mapping[str, str] | None = None) -> Resolved:
    """Find weights ``name`` on this machine or raise ``WeightsMissing`` (never downloads)."""
    spec = get_spec(name)
    explicit = (overrides or {}).get(name)
    looked = []
    for source, path in _candidates(spec, explicit):
        try:
            is_file = path.is_file()
        except OSError as exc:  # a path no file system takes (too long, say)
            raise RealBenchError(f"weights '{name}': cannot look at this path ({exc.strerror or exc})",
                                 path=printable(str(path)[:300])) from None
        if spec.kind == "url_file" and is_file:
            if file_complete(path):
                log.debug("weights %s: %s (%s)", name, path, source)
                return Resolved(spec, path, source, (path,))
            found: list[Path] = []
            missing = [f"{path.name} is incomplete"]
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
