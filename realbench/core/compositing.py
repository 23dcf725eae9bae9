"""Pasting a method's output over the target so that known pixels stay exact.

RealFill's inference dilates the mask by one pixel and box-blurs it before alpha compositing
(a one-pixel feather); ``feather_alpha`` generalises that to any width ``w``: the alpha is exactly
1 on the mask and exactly 0 farther than ``2w`` pixels (Chebyshev) from it.
"""
from __future__ import annotations

import cv2
import numpy as np

from .imageops import dilate


def feather_alpha(mask: np.ndarray, width: int) -> np.ndarray:
    """Float alpha in [0, 1]: 1 on ``mask``, a ramp of ``2*width`` pixels into the known region."""
    alpha = mask.astype(np.float64)
    if width <= 0:
        return alpha
    size = 2 * width + 1
    dilated = dilate(mask, width).astype(np.float64)
    alpha = np.asarray(cv2.blur(dilated, (size, size), borderType=cv2.BORDER_REPLICATE), np.float64)
    alpha[mask] = 1.0
    alpha[alpha < 1e-9] = 0.0
    return alpha


def composite(output: np.ndarray, target: np.ndarray, mask: np.ndarray, feather: int = 0) -> np.ndarray:
    """``alpha * output + (1 - alpha) * target`` with exact copies where alpha is 0 or 1."""
    if output.shape != target.shape:
        raise ValueError(f"output {output.shape} and target {target.shape} differ in size")
    alpha = feather_alpha(mask, feather)[..., None]
    blended = np.clip(np.floor(alpha * output + (1.0 - alpha) * target + 0.5), 0, 255).astype(np.uint8)
    out = np.where(alpha == 0.0, target, blended)
    return np.where(alpha == 1.0, output, out).astype(np.uint8)


def feather_band(mask: np.ndarray, width: int) -> np.ndarray:
    """Known pixels that a feather of ``width`` may change (empty for width 0)."""
    return (feather_alpha(mask, width) > 0) & ~mask
