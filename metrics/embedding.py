"""Shared base of the full-image embedding metrics (DINO, CLIP, DreamSim).

The ground-truth embedding is computed once per scene (``reference``), samples are embedded
in batches, and the score is the cosine similarity of the two embeddings (or ``1 - cosine`` for
distances such as DreamSim).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._torch import batches, cosine
from .base import BatchOptions, Metric


class EmbeddingMetric(Metric):
    distance = False
    Options = BatchOptions

    def embed(self, images: Sequence[np.ndarray]):
        """N uint8 images -> N x D embeddings (subclasses)."""
        raise NotImplementedError

    def prepare(self, scene) -> Any:
        import torch

        self.load()
        with torch.no_grad():
            return self.embed([scene.gt])

    def score(self, state, scene, images: Sequence[np.ndarray]) -> list[float]:
        import torch

        self.load()
        values: list[float] = []
        with torch.no_grad():
            for chunk in batches(list(images), int(self.options["batch_size"])):
                similarity = cosine(self.embed(chunk), state.to(self._device))
                values += [float(1.0 - s) if self.distance else float(s) for s in similarity]
        return values
