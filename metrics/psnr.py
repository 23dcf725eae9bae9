"""PSNR over the missing region only: known pixels are copied from the target and would only
inflate the score, so RealFill's Table 1 measures the filled pixels."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import Metric, MetricInfo, check_pair


def masked_psnr(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, data_range: float = 255.0) -> float:
    """10 log10(R^2 / MSE), the MSE taken over every masked pixel and channel."""
    check_pair(pred, gt, mask)
    diff = pred[mask].astype(np.float64) - gt[mask].astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range * data_range / mse))


class PSNR(Metric):
    info = MetricInfo(
        name="psnr", higher_is_better=True, range=(0.0, float("inf")), level="low", region="mask",
        description="peak signal-to-noise ratio over the masked pixels (dB)", default_atol=1e-3,
    )

    def protocol(self):
        return {"data_range": 255, "region": "mask", "mse": "mean over masked pixels and RGB channels"}

    def score(self, state, scene, images: Sequence[np.ndarray]) -> list[float]:
        return [masked_psnr(image, scene.gt, scene.mask) for image in images]
