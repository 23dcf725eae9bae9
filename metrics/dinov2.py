"""``dinov2``: DINOv2 ViT-B/14 CLS cosine with its checkpoint's own image processor (resize 256,
crop 224), as harsh-vpatel/realfill's ``eval.py`` does."""
from __future__ import annotations

from typing import Any

import numpy as np

from realbench.weights import WeightSpec, register_weights

from .base import METRICS, MetricInfo
from .dino_similarity import DINO, processor_settings

DINOV2_BASE = register_weights(WeightSpec(
    "dinov2-base", "hf_repo", "DINOv2 ViT-B/14, transformers format", repo_id="facebook/dinov2-base",
    needs=(("config.json",), ("preprocessor_config.json",), ("model.safetensors", "pytorch_model.bin"))))


@METRICS.register("dinov2")
class DINOv2(DINO):
    info = MetricInfo(
        name="dinov2", higher_is_better=True, range=(-1.0, 1.0), level="high", region="full", needs_weights=True,
        description="cosine similarity of DINOv2 ViT-B/14 CLS embeddings (its own image processor), full image",
    )
    weights_name = DINOV2_BASE.name

    def preprocess_description(self) -> dict[str, Any]:
        return processor_settings(self._processor)

    def embed(self, images):
        pixels = self._processor(images=[np.array(i) for i in images], return_tensors="pt")["pixel_values"]
        return self._model(pixel_values=pixels.to(self._device)).last_hidden_state[:, 0]
