"""``lpips_bbox``: LPIPS of both images cropped to the mask's bounding box (grown to at least 64 px
a side, which AlexNet needs), one whole-crop value: close to SSHIRONEKOO/realfill_apai3010_gp11's
convention (that notebook pastes the ground truth outside the mask instead)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import METRICS, MetricInfo
from .masked_lpips import MIN_CROP, MaskedLPIPS, bbox


@METRICS.register("lpips_bbox")
class BBoxLPIPS(MaskedLPIPS):
    info = MetricInfo(
        name="lpips_bbox", higher_is_better=False, range=(0.0, 1.0), level="low", region="mask", needs_weights=True,
        description="LPIPS v0.1 AlexNet of both images cropped to the mask's bounding box",
    )
    variant = "bbox"
    spatial = False
    region = f"crop to the mask's bounding box (at least {MIN_CROP} px a side), spatial mean"

    def view(self, scene, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        rows, cols = bbox(scene.mask)
        return [np.ascontiguousarray(image[rows, cols]) for image in images]
