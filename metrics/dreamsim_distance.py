"""DreamSim (ensemble, the package's default) distance of the full images: 1 - cosine of the
DreamSim embeddings, exactly as ``dreamsim``'s ``PerceptualModel.forward`` on its own
preprocessing (bicubic resize to 224x224, [0, 1]); lower is better. Every public RealBench
script calls the package this way (``dreamsim(pretrained=True)``, ensemble, normalised embeddings).

The network sits behind a small backend interface (``embed(batch) -> embeddings``); the real
backend is the ``dreamsim`` package loaded from the folder ``dreamsim(cache_dir=...)`` fills.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from realbench.core.download import fetch_url
from realbench.core.unzip import extract_zip
from realbench.weights import WeightSpec, file_complete, register_weights, resolve

from ._torch import cached_model, pick_device, real_path
from .base import METRICS, MetricInfo
from .embedding import EmbeddingMetric

IMAGE_SIZE = 224
DREAMSIM_URL = ("https://github.com/ssundaram21/dreamsim/releases/download/v0.2.0-checkpoints/"
                "dreamsim_ensemble_checkpoint.zip")
def load_dreamsim_package(folder: Path, device) -> Any:
    """``dreamsim(pretrained=True, cache_dir=folder)``, without its side effects: it points
    torch.hub at ``folder`` for good and prints to stdout, so both are undone here."""
    import contextlib
    import io

    import torch
    from dreamsim import dreamsim

    old_hub = torch.hub._hub_dir
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            model, _ = dreamsim(pretrained=True, device=str(device), cache_dir=str(folder))
    finally:
        torch.hub._hub_dir = old_hub
    return model


def fetch_dreamsim_bundle(spec: WeightSpec, folder: Path, progress: bool) -> None:
    """What ``dreamsim(pretrained=True, cache_dir=DIR)`` does, made resumable: the release zip
    (resumable, unpacked atomically), then the package itself fetches DINO's torch-hub repository
    and checkpoint into the same folder while it loads."""
    archive_needs = [n for n in spec.needs if not n[0].startswith(("facebookresearch_dino_main", "checkpoints/"))]
    if any(not any(file_complete(folder / alt) for alt in need) for need in archive_needs):
        archive = fetch_url(str(spec.url), folder / "pretrained.zip", progress=progress)
        extract_zip(archive, folder)
    load_dreamsim_package(folder, "cpu")


DREAMSIM_ENSEMBLE = register_weights(WeightSpec(
    "dreamsim-ensemble", "bundle",
    "DreamSim ensemble (DINO + CLIP + OpenCLIP ViT-B/16 with LoRA), the folder dreamsim(cache_dir=...) fills",
    url=DREAMSIM_URL,
    needs=(("dino_vitb16_pretrain.pth",), ("clip_vitb16_pretrain.pth.tar",), ("open_clip_vitb16_pretrain.pth.tar",),
           ("ensemble_lora/adapter_config.json",),
           ("ensemble_lora/adapter_model.safetensors", "ensemble_lora/adapter_model.bin"),
           # what the package's torch.hub.load('facebookresearch/dino:main') leaves in the same folder
           ("facebookresearch_dino_main/hubconf.py",), ("checkpoints/dino_vitbase16_pretrain.pth",)),
    fetch=fetch_dreamsim_bundle))


class DreamSimBackend(Protocol):
    def embed(self, pixels): ...  # N x 3 x 224 x 224 in [0, 1] -> N x D


def load_dreamsim(bundle: str, device) -> DreamSimBackend:
    """The real package, from a folder that ``dreamsim(pretrained=True, cache_dir=...)`` filled."""
    return load_dreamsim_package(Path(bundle), device)


@METRICS.register("dreamsim")
class DreamSim(EmbeddingMetric):
    info = MetricInfo(
        name="dreamsim", higher_is_better=False, range=(0.0, 2.0), level="mid", region="full", needs_weights=True,
        description="DreamSim ensemble distance (1 - cosine of embeddings), full image",
    )
    distance = True

    def __init__(self, weights=None, device=None, backend: DreamSimBackend | None = None, **options: Any):
        super().__init__(weights, device, **options)
        self._backend = backend

    def required_weights(self) -> list[str]:
        return [] if self._backend is not None else [DREAMSIM_ENSEMBLE.name]

    def load(self) -> None:
        if getattr(self, "_device", None) is None:
            self._device = pick_device(self.device)
        if self._backend is None:
            self._resolved = resolve(DREAMSIM_ENSEMBLE.name, self.weights)
            self._backend = cached_model(("dreamsim", real_path(self._resolved.path), str(self._device)),
                                         lambda: load_dreamsim(str(self._resolved.path), self._device))

    def protocol(self) -> dict[str, Any]:
        self.load()
        resolved = getattr(self, "_resolved", None)
        return {
            "model": "dreamsim ensemble (dino_vitb16, clip_vitb16, open_clip_vitb16; LoRA)",
            "weights": resolved.id if resolved else f"injected backend {type(self._backend).__name__}",
            "preprocess": f"PIL bicubic resize to {IMAGE_SIZE}x{IMAGE_SIZE}, [0, 1]",
            "region": "full image", "score": "1 - cosine similarity",
        }

    def embed(self, images):
        import numpy as np
        import torch
        from PIL import Image

        resized = [np.asarray(Image.fromarray(image).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC))
                   for image in images]
        pixels = torch.from_numpy(np.stack(resized).astype(np.float32) / 255.0).permute(0, 3, 1, 2)
        return self._backend.embed(pixels.to(self._device))
