"""DINO: cosine similarity of the CLS embeddings of DINO ViT-S/16 (v1) for the full images, the
high-level column of RealFill's Table 1. ``dinov2`` uses DINOv2 ViT-B/14 instead.

Models load through transformers (``AutoModel`` + the checkpoint's own ``AutoImageProcessor``,
so the preprocessing is the one published with the weights); the embedding is the final
layer-normed CLS token (``last_hidden_state[:, 0]``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from realbench.weights import resolve

from ._torch import cached_model, pick_device
from .base import MetricInfo
from .embedding import EmbeddingMetric


def load_vit(path: str, device):
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, ViTModel

    if AutoConfig.from_pretrained(path).model_type == "vit":  # DINO v1 checkpoints carry no pooler
        model = ViTModel.from_pretrained(path, add_pooling_layer=False)
    else:
        model = AutoModel.from_pretrained(path)
    model = model.eval().requires_grad_(False).to(device)
    processor = AutoImageProcessor.from_pretrained(path)
    return model, processor


def _plain(value):
    """JSON-able copy of processor settings (SizeDict, enums, tuples)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in dict(value).items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


class DINO(EmbeddingMetric):
    info = MetricInfo(
        name="dino", higher_is_better=True, range=(-1.0, 1.0), level="high", region="full", needs_weights=True,
        description="cosine similarity of DINO ViT-S/16 CLS embeddings, full image",
    )
    weights_name = "dino-vits16"

    def required_weights(self) -> list[str]:
        return [self.weights_name]

    def load(self) -> None:
        if getattr(self, "_model", None) is None:
            self._resolved = resolve(self.weights_name, self.weights)
            self._device = pick_device(self.device)
            self._model, self._processor = cached_model(
                ("vit", str(self._resolved.path), str(self._device)), lambda: load_vit(str(self._resolved.path), self._device))

    def protocol(self) -> dict[str, Any]:
        self.load()
        proc = self._processor.to_dict()
        keys = ("size", "crop_size", "do_center_crop", "resample", "do_rescale", "rescale_factor", "image_mean",
                "image_std")
        return {
            "model": self.weights_name, "weights": self._resolved.id, "embedding": "last_hidden_state[:, 0] (CLS)",
            "processor": {"class": type(self._processor).__name__,
                          **{k: _plain(proc.get(k)) for k in keys if k in proc}},
            "region": "full image", "score": "cosine similarity",
        }

    def embed(self, images):
        pixels = self._processor(images=[np.array(i) for i in images], return_tensors="pt")["pixel_values"].to(self._device)
        return self._model(pixel_values=pixels).last_hidden_state[:, 0]


class DINOv2(DINO):
    info = MetricInfo(
        name="dinov2", higher_is_better=True, range=(-1.0, 1.0), level="high", region="full", needs_weights=True,
        description="cosine similarity of DINOv2 ViT-B/14 CLS embeddings, full image",
    )
    weights_name = "dinov2-base"
