"""``lpips_zeroed``: LPIPS of both images scaled to [-1, 1], then multiplied by the mask (known
pixels 0, mid-grey), one whole-image value: the public RealBench scripts' convention
(eric15342335/realfill ``benchmark/lpips_metric.py``, harsh-vpatel/realfill ``eval.py``).
Version 1 multiplied before scaling (known pixels black), which those scripts do not do."""
from __future__ import annotations

import numpy as np

from .base import METRICS, MetricInfo
from .masked_lpips import MaskedLPIPS


@METRICS.register("lpips_zeroed")
class ZeroedLPIPS(MaskedLPIPS):
    info = MetricInfo(
        name="lpips_zeroed", higher_is_better=False, range=(0.0, 1.0), level="low", region="mask", needs_weights=True,
        description="LPIPS v0.1 AlexNet of both images scaled to [-1, 1], then multiplied by the mask", version=2,
    )
    variant = "zeroed"
    spatial = False
    region = ("both images scaled to [-1, 1], then multiplied by the binary mask (known pixels 0); spatial mean "
              "over the whole image")

    def network_input(self, x, scene):
        import torch

        return x * torch.from_numpy(np.array(scene.mask, dtype=np.float32)).to(x.device)  # scale first, then mask
