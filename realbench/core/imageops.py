"""The image operations several parts of realbench share, written once: growing a mask, OpenCV's
Telea inpainting, SIFT features and Lowe's ratio-test matches. The homography baseline, seed
selection, compositing and the diffusion methods all use these, so they agree on what "the mask
grown by 16 pixels" or "a good match" means."""
from __future__ import annotations

import numpy as np


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` (bool) grown by ``radius`` pixels in every direction (a square of side 2r+1)."""
    import cv2  # here, not at import: reading a mask or a scene needs no OpenCV

    if radius <= 0:
        return np.asarray(mask, bool).copy()
    size = 2 * int(radius) + 1
    return cv2.dilate(np.asarray(mask).astype(np.uint8), np.ones((size, size), np.uint8)) > 0


def telea(target: np.ndarray, mask: np.ndarray, radius: float) -> np.ndarray:
    """Telea's fast-marching inpainting (OpenCV) of ``mask`` in an RGB image."""
    import cv2  # here, not at import: reading a mask or a scene needs no OpenCV

    filled = cv2.inpaint(np.ascontiguousarray(target[..., ::-1]), mask.astype(np.uint8) * 255, float(radius),
                         cv2.INPAINT_TELEA)
    return np.ascontiguousarray(filled[..., ::-1])


def sift(max_features: int):
    import cv2  # here, not at import: reading a mask or a scene needs no OpenCV

    return cv2.SIFT_create(nfeatures=int(max_features))  # type: ignore[attr-defined]


def sift_features(detector, image: np.ndarray, mask: np.ndarray | None = None):
    """(keypoints, descriptors) of an RGB image (or a grey one), optionally only where ``mask``."""
    import cv2  # here, not at import: reading a mask or a scene needs no OpenCV

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    return detector.detectAndCompute(grey, None if mask is None else mask.astype(np.uint8) * 255)


def ratio_matches(queries, trains, ratio: float) -> list:
    """Matches of ``queries`` descriptors in ``trains`` that pass Lowe's ratio test (best distance
    below ``ratio`` times the second best)."""
    import cv2  # here, not at import: reading a mask or a scene needs no OpenCV

    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(queries, trains, k=2)
    return [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < ratio * n.distance]
