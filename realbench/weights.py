"""Where every pretrained file the project uses comes from, offline first.

Order of search for each named weight: an explicit path (``--weights NAME=PATH`` or the API's
``weights={...}``), then ``$REALBENCH_WEIGHTS_DIR``, then the usual caches (torch hub
checkpoints, the Hugging Face hub cache, realbench's own cache for multi-file bundles).
Nothing is downloaded implicitly: a missing file is a ``WeightsMissing`` error that names the
file and the exact command that fetches it (``realbench weights download NAME``).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

from .errors import RealBenchError

Kind = Literal["torch_file", "hf_repo", "hf_file", "bundle", "package"]


@dataclass(frozen=True)
class WeightSpec:
    name: str
    kind: Kind
    description: str
    repo_id: str | None = None
    files: tuple[str, ...] = ()  # torch_file: the file; hf_file: candidates; hf_repo/bundle: required entries
    url: str | None = None

    def fetch_command(self) -> str:
        raw = {
            "torch_file": f"python -c \"import torch; torch.hub.load_state_dict_from_url('{self.url}')\"",
            "hf_repo": f"hf download {self.repo_id}",
            "hf_file": f"hf download {self.repo_id} {self.files[-1] if self.files else ''}".strip(),
            "bundle": f"python -c \"from dreamsim import dreamsim; dreamsim(pretrained=True, device='cpu', "
                      f"cache_dir='{default_bundle_dir(self.name)}')\" (run inside that folder)",
            "package": "pip install --force-reinstall <the package>",
        }[self.kind]
        if self.kind in ("hf_repo", "hf_file") and self.repo_id is None:
            return f"no public download known: put {self.files[-1]} in $REALBENCH_WEIGHTS_DIR/{self.name}/"
        return f"realbench weights download {self.name}   (or: {raw})"


SPECS: dict[str, WeightSpec] = {}


def register_weights(spec: WeightSpec) -> WeightSpec:
    SPECS[spec.name] = spec
    return spec


register_weights(WeightSpec(
    "alexnet", "torch_file", "ImageNet AlexNet trunk of LPIPS (torchvision IMAGENET1K_V1)",
    files=("alexnet-owt-7be5be79.pth",), url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"))
register_weights(WeightSpec(
    "loftr-outdoor", "torch_file", "LoFTR outdoor matcher (kornia), for correspondence-based seed selection",
    files=("loftr_outdoor.ckpt",), url="https://huggingface.co/kornia/loftr/resolve/main/loftr_outdoor.ckpt"))
register_weights(WeightSpec(
    "dino-vits16", "hf_repo", "DINO ViT-S/16 (v1), transformers format", repo_id="facebook/dino-vits16",
    files=("config.json",)))
register_weights(WeightSpec(
    "dinov2-base", "hf_repo", "DINOv2 ViT-B/14, transformers format", repo_id="facebook/dinov2-base",
    files=("config.json",)))
register_weights(WeightSpec(
    "clip-vit-b-32-openai", "hf_file", "OpenCLIP ViT-B-32 with OpenAI weights",
    repo_id="timm/vit_base_patch32_clip_224.openai",
    files=("open_clip_model.safetensors", "open_clip_pytorch_model.bin")))
register_weights(WeightSpec(
    "dreamsim-ensemble", "bundle", "DreamSim ensemble (DINO + CLIP + OpenCLIP ViT-B/16 with LoRA)",
    files=("dino_vitb16_pretrain.pth", "open_clip_vitb16_pretrain.pth.tar", "clip_vitb16_pretrain.pth.tar",
           "ensemble_lora/adapter_config.json", "facebookresearch_dino_main/hubconf.py",
           "checkpoints/dino_vitbase16_pretrain.pth", "models--timm--vit_base_patch16_clip_224.laion400m_e31")))


@dataclass(frozen=True)
class Resolved:
    spec: WeightSpec
    path: Path
    source: str

    @property
    def id(self) -> str:
        """``name@hash``: the snapshot commit for hub repos, else a content hash (cached by size+mtime)."""
        if "snapshots" in self.path.parts:
            return f"{self.spec.name}@{self.path.parts[self.path.parts.index('snapshots') + 1][:12]}"
        return f"{self.spec.name}@{content_hash(self.path)}"


class WeightsMissing(RealBenchError):
    """Pretrained weights that are not on this machine."""

    def __init__(self, spec: WeightSpec, looked: list[str]):
        super().__init__(
            f"weights '{spec.name}' ({spec.description}) not found; looked in: {'; '.join(looked)}. "
            f"Fetch them on a machine with internet: {spec.fetch_command()}"
        )
        self.spec = spec


def weights_dir() -> Path | None:
    value = os.environ.get("REALBENCH_WEIGHTS_DIR")
    return Path(value).expanduser() if value else None


def default_bundle_dir(name: str) -> Path:
    from .sample_data import cache_dir

    return (weights_dir() or cache_dir() / "weights") / name


def get_spec(name: str) -> WeightSpec:
    if name not in SPECS:
        import difflib

        close = difflib.get_close_matches(name, list(SPECS), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise RealBenchError(f"unknown weights '{name}'.{hint} Known: {', '.join(sorted(SPECS))}.")
    return SPECS[name]


def _complete(folder: Path, files: tuple[str, ...]) -> bool:
    return folder.is_dir() and all((folder / f).exists() for f in files)


def _candidates(spec: WeightSpec, explicit: str | None) -> list[tuple[str, Path]]:
    out = []
    if explicit:
        out.append(("explicit path", Path(explicit).expanduser()))
    root = weights_dir()
    if root is not None:
        out.append(("$REALBENCH_WEIGHTS_DIR", root / spec.name))
        if spec.kind == "torch_file":
            out.append(("$REALBENCH_WEIGHTS_DIR", root / spec.files[0]))
    if spec.kind == "torch_file":
        import torch

        out.append(("torch hub cache", Path(torch.hub.get_dir()) / "checkpoints" / spec.files[0]))
    if spec.kind == "bundle":
        out.append(("realbench cache", default_bundle_dir(spec.name)))
    return out


def _check(spec: WeightSpec, path: Path) -> Path | None:
    """The usable path at ``path`` for ``spec`` (a file, or a folder holding what it needs)."""
    if spec.kind in ("torch_file", "hf_file"):
        if path.is_file():
            return path
        for name in spec.files:
            if (path / name).is_file():
                return path / name
        return None
    return path if _complete(path, spec.files) else None


def _hf_cache(spec: WeightSpec) -> tuple[Path | None, str]:
    from huggingface_hub import constants, try_to_load_from_cache

    where = f"Hugging Face cache {constants.HF_HUB_CACHE} ({spec.repo_id})"
    for name in spec.files:
        found = try_to_load_from_cache(spec.repo_id, name)
        if isinstance(found, str):
            return (Path(found) if spec.kind == "hf_file" else Path(found).parent), where
    return None, where


def resolve(name: str, overrides: Mapping[str, str] | None = None) -> Resolved:
    """Find weights ``name`` on this machine or raise ``WeightsMissing`` (never downloads)."""
    spec = get_spec(name)
    explicit = (overrides or {}).get(name)
    looked = []
    for source, path in _candidates(spec, explicit):
        found = _check(spec, path)
        if found is not None:
            return Resolved(spec, found, source)
        looked.append(str(path))
        if source == "explicit path":  # an explicit path that is wrong is an error, not a fallback
            raise RealBenchError(f"weights '{name}' not usable: expected {', '.join(spec.files)}", path=str(path))
    if spec.kind in ("hf_repo", "hf_file") and spec.repo_id is not None:
        found, where = _hf_cache(spec)
        if found is not None and _check(spec, found) is not None:
            return Resolved(spec, _check(spec, found), "huggingface cache")
        looked.append(where)
    raise WeightsMissing(spec, looked)


def download(name: str) -> Resolved:
    """Fetch weights ``name`` (needs internet). A thin call of huggingface_hub / torch.hub."""
    spec = get_spec(name)
    root = weights_dir()
    try:
        if spec.kind == "torch_file":
            import torch

            target = root if root is not None else Path(torch.hub.get_dir()) / "checkpoints"
            target.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(spec.url, str(target / spec.files[0]))
        elif spec.kind == "hf_repo":
            from huggingface_hub import snapshot_download

            snapshot_download(spec.repo_id, local_dir=str(root / name) if root is not None else None)
        elif spec.kind == "hf_file":
            from huggingface_hub import hf_hub_download

            hf_hub_download(spec.repo_id, spec.files[-1], local_dir=str(root / name) if root is not None else None)
        elif spec.kind == "bundle":
            from dreamsim import dreamsim

            target = default_bundle_dir(name)
            target.mkdir(parents=True, exist_ok=True)
            cwd = os.getcwd()
            os.chdir(target)  # dreamsim's OpenCLIP part caches into the working directory
            try:
                dreamsim(pretrained=True, device="cpu", cache_dir=str(target))
            finally:
                os.chdir(cwd)
    except RealBenchError:
        raise
    except Exception as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        raise RealBenchError(f"download of weights '{name}' failed ({type(exc).__name__}: {first})") from None
    return resolve(name)


def content_hash(path: Path) -> str:
    """sha256 (first 12 hex) of a file or of a folder's files, cached by path, size and mtime."""
    from .sample_data import cache_dir

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
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
        from .imageio import atomic_write_bytes

        atomic_write_bytes(store, json.dumps(known).encode())
    except OSError:
        pass
    return known[key]
