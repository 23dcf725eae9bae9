"""Shared base of the full-image embedding metrics (DINO, CLIP, DreamSim).

The ground-truth embedding is computed once per scene (``reference``), samples are embedded
in batches, and the score is the cosine similarity of the two embeddings (or ``1 - cosine`` for
distances such as DreamSim).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._torch import batch_size, batches, cosine, forward_context
from .base import BatchOptions, Metric

IMAGES_PER_GPU_BATCH = 64  # a 224 px ViT-B batch that fits any current GPU with room to spare
IMAGES_PER_CPU_BATCH = 16


class EmbeddingMetric(Metric):
    distance = False
    _device: Any = None  # set by load()
    Options = BatchOptions
    persist_ground_truth = True

    def embed(self, images: Sequence[np.ndarray]):
        """N uint8 images -> N x D embeddings (subclasses)."""
        raise NotImplementedError

    def prepare(self, scene) -> Any:
        self.load()
        with forward_context(self._device, self.options["precision"]):
            return self.embed([scene.gt]).float()

    def score(self, state, scene, images: Sequence[np.ndarray]) -> list[float]:
        self.load()
        values: list[float] = []
        size = batch_size(self.options["batch_size"], self._device, len(images), 1, IMAGES_PER_GPU_BATCH,
                          IMAGES_PER_CPU_BATCH)
        with forward_context(self._device, self.options["precision"]):
            for chunk in batches(list(images), size):
                similarity = cosine(self.embed(chunk).float(), state.to(self._device))
                values += [float(1.0 - s) if self.distance else float(s) for s in similarity]
        return values
