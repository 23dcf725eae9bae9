"""Fetching weights (needs internet): only the files loading needs (no duplicate precisions, no
single-file checkpoints, no safety checker), where the real packages look, resumable (hub files
per file, plain URLs per byte). A machine without network fails at once, saying so."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from realbench.core.download import fetch_url, hub_unreachable
from realbench.core.errors import RealBenchError, describe

from .complete import diffusers_needs
from .resolve import Resolved, WeightsMissing, resolve
from .specs import WeightSpec, default_bundle_dir, get_spec, torch_hub_dir, weights_dir

log = logging.getLogger(__name__)


def _hf_files(spec: WeightSpec, available: set[str], folder_of) -> list[str]:
    """The files of a hub repository that loading needs: per need, its first alternative the
    repository has (plus shards of an index), whole tokenizer folders, optional extras."""
    chosen: list[str] = []
    needs = list(spec.needs)
    if spec.layout == "diffusers":
        if "model_index.json" not in available:
            raise RealBenchError(f"'{spec.repo_id}' has no model_index.json: not a diffusers pipeline repository")
        needs += diffusers_needs(folder_of("model_index.json").parent)
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


def _download_hf(spec: WeightSpec) -> None:
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    root = weights_dir()
    local_dir = str(root / spec.name) if root is not None else None
    repo_id = str(spec.repo_id)
    available = set(HfApi().list_repo_files(repo_id))

    def folder_of(filename: str) -> Path:
        return Path(hf_hub_download(repo_id, filename, local_dir=local_dir))

    files = _hf_files(spec, available, folder_of)
    snapshot_download(repo_id, allow_patterns=files, local_dir=local_dir)


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
            fetch_url(str(spec.url), folder / spec.filename, progress=progress)
        elif spec.kind == "hf_repo":
            if not spec.repo_id:
                raise RealBenchError(spec.fetch_command())
            _download_hf(spec)
        else:
            if spec.fetch is None:
                raise RealBenchError(f"no way to fetch '{spec.name}' is known; {spec.fetch_command()}")
            spec.fetch(spec, default_bundle_dir(spec.name), progress)
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
