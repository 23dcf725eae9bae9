"""``ssim_opencv``: SSIM as the public RealBench scripts compute it (eric15342335/realfill
``benchmark/ssim_metric.py``, harsh-vpatel/realfill ``eval.py``): the window and population
covariance of ``ssim`` but OpenCV filtering with *replicated* borders, negative variances clamped
to 0, and each channel's masked mean clipped to [0, 1] before the channels are averaged."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .base import METRICS, Metric, MetricInfo, check_pair
from .ssim import K1, K2, SIGMA, WINDOW, local_statistics, ssim_from_statistics


def masked_ssim_opencv(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, data_range: float = 255.0) -> float:
    """The public scripts' variant: replicated borders, variances clamped at 0, per-channel clip."""
    check_pair(pred, gt, mask)
    ux, uy, vx, vy, vxy = local_statistics(pred, gt, cv2.BORDER_REPLICATE)
    values = ssim_from_statistics(ux, uy, np.maximum(vx, 0.0), np.maximum(vy, 0.0), vxy, data_range)[mask]  # N x C
    return float(np.mean(np.clip(values.mean(axis=0), 0.0, 1.0)))


@METRICS.register("ssim_opencv")
class OpenCVSSIM(Metric):
    info = MetricInfo(
        name="ssim_opencv", higher_is_better=True, range=(0.0, 1.0), level="low", region="mask",
        description="SSIM as the public RealBench scripts compute it (OpenCV, replicated borders, "
                    "per-channel masked mean clipped to [0, 1])",
    )

    def protocol(self):
        return {
            "window": f"gaussian sigma={SIGMA} ({WINDOW}x{WINDOW})", "border": "replicate",
            "use_sample_covariance": False,
            "variances": "clamped at 0", "K1": K1, "K2": K2, "data_range": 255,
            "channels": "per channel: mean of the map over masked pixels, clipped to [0, 1]; then mean of channels",
            "reproduces": "eric15342335/realfill benchmark/ssim_metric.py; harsh-vpatel/realfill eval.py",
        }

    def score(self, state, scene, images: Sequence[np.ndarray]) -> list[float]:
        return [masked_ssim_opencv(image, scene.gt, scene.mask) for image in images]
