"""PSNR over the missing region only: known pixels are copied from the target and would only
inflate the score, so RealFill's Table 1 measures the filled pixels.

A perfect (or nearly perfect) sample would be infinite dB and make its scene's mean, the mean over
scenes and any paired comparison infinite too; every value is therefore capped at ``MAX_PSNR``
(100 dB, as eric15342335/realfill's script does for a perfect sample), and the protocol records it.
Version 1 returned ``inf``."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import METRICS, Metric, MetricInfo, check_pair

MAX_PSNR = 100.0


def masked_psnr(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, data_range: float = 255.0,
                cap: float = MAX_PSNR) -> float:
    """10 log10(R^2 / MSE), the MSE taken over every masked pixel and channel, at most ``cap`` dB."""
    check_pair(pred, gt, mask)
    diff = pred[mask].astype(np.float64) - gt[mask].astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return cap
    return min(cap, float(10.0 * np.log10(data_range * data_range / mse)))


@METRICS.register("psnr")
class PSNR(Metric):
    info = MetricInfo(
        name="psnr", higher_is_better=True, range=(0.0, float("inf")), level="low", region="mask",
        description="peak signal-to-noise ratio over the masked pixels (dB), capped at 100 dB", default_atol=1e-3,
        gpu_atol=0.1,
        version=2,
    )

    def protocol(self):
        return {"data_range": 255, "region": "mask", "mse": "mean over masked pixels and RGB channels",
                "cap_db": MAX_PSNR, "equals": "skimage peak_signal_noise_ratio on the masked pixels, capped"}

    def score(self, state, scene, images: Sequence[np.ndarray]) -> list[float]:
        return [masked_psnr(image, scene.gt, scene.mask) for image in images]
