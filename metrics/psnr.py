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
    if pred.dtype == gt.dtype == np.uint8:
        return _psnr_uint8(pred.reshape(-1, 3)[np.flatnonzero(mask)], gt[mask].astype(np.int16), data_range, cap)
    diff = pred[mask].astype(np.float64) - gt[mask].astype(np.float64)
    return _from_mse(float(np.mean(diff * diff)), data_range, cap)


def _psnr_uint8(pred_pixels: np.ndarray, gt_pixels: np.ndarray, data_range: float, cap: float) -> float:
    """Integer arithmetic: every squared difference and their sum are exact, so the MSE is the very
    float the float64 mean gives (sums of integers below 2**53 are exact), in a quarter of the time."""
    diff = pred_pixels.astype(np.int16) - gt_pixels
    wide = diff.astype(np.int32)
    return _from_mse(int((wide * wide).sum(dtype=np.int64)) / diff.size, data_range, cap)


def _from_mse(mse: float, data_range: float, cap: float) -> float:
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

    def prepare(self, scene) -> tuple[np.ndarray, np.ndarray]:
        """The masked pixels' positions and ground-truth values, once per scene."""
        check_pair(scene.gt, scene.gt, scene.mask)
        return np.flatnonzero(scene.mask), scene.gt[scene.mask].astype(np.int16)

    def score(self, state, scene, images: Sequence[np.ndarray]) -> list[float]:
        positions, gt_pixels = state
        return [_psnr_uint8(image.reshape(-1, 3)[positions], gt_pixels, 255.0, MAX_PSNR) for image in images]
