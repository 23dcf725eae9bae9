"""CLIP: cosine similarity of OpenCLIP image embeddings of the full images (ViT-B-32 with
OpenAI's weights by default; ``--metric-set clip.model=... clip.pretrained=...`` for others).
Preprocessing is OpenCLIP's own validation transform for the model.
"""
from __future__ import annotations

from typing import Any

from realbench.weights import SPECS, WeightSpec, register_weights, resolve

from ._torch import cached_model, pick_device
from .base import MetricInfo
from .embedding import EmbeddingMetric


def clip_weights(model: str, pretrained: str) -> tuple[str, bool]:
    """The weights name for an OpenCLIP (model, tag), registering its hub file on first use,
    and whether the weights need QuickGELU (OpenAI's do)."""
    import open_clip

    name = f"clip-{model.lower()}-{pretrained.lower()}"
    cfg = open_clip.get_pretrained_cfg(model, pretrained) or {}
    if name not in SPECS:
        repo = (cfg.get("hf_hub") or "").rstrip("/") or None
        register_weights(WeightSpec(name, "hf_file", f"OpenCLIP {model} ({pretrained})", repo_id=repo,
                                    files=("open_clip_model.safetensors", "open_clip_pytorch_model.bin")))
    return name, bool(cfg.get("quick_gelu", False))


def load_open_clip(model: str, path: str, quick_gelu: bool, device):
    import open_clip

    net, _, preprocess = open_clip.create_model_and_transforms(
        model, pretrained=path, force_quick_gelu=quick_gelu, device=device)
    return net.eval().requires_grad_(False), preprocess


class CLIP(EmbeddingMetric):
    info = MetricInfo(
        name="clip", higher_is_better=True, range=(-1.0, 1.0), level="high", region="full", needs_weights=True,
        description="cosine similarity of OpenCLIP ViT-B-32 (OpenAI) image embeddings, full image",
    )
    default_options = {"batch_size": 16, "model": "ViT-B-32", "pretrained": "openai"}

    def required_weights(self) -> list[str]:
        return [clip_weights(self.options["model"], self.options["pretrained"])[0]]

    def load(self) -> None:
        if getattr(self, "_model", None) is None:
            name, quick_gelu = clip_weights(self.options["model"], self.options["pretrained"])
            self._resolved = resolve(name, self.weights)
            self._device = pick_device(self.device)
            self._model, self._preprocess = cached_model(
                ("open_clip", self.options["model"], str(self._resolved.path), str(self._device)),
                lambda: load_open_clip(self.options["model"], str(self._resolved.path), quick_gelu, self._device))

    def protocol(self) -> dict[str, Any]:
        self.load()
        return {
            "model": f"open_clip {self.options['model']}", "pretrained": self.options["pretrained"],
            "weights": self._resolved.id, "preprocess": repr(self._preprocess).replace("\n", " "),
            "embedding": "encode_image", "region": "full image", "score": "cosine similarity",
        }

    def embed(self, images):
        import torch
        from PIL import Image

        pixels = torch.stack([self._preprocess(Image.fromarray(image)) for image in images]).to(self._device)
        return self._model.encode_image(pixels)
