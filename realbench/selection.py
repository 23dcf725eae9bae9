"""Correspondence-based seed selection (RealFill, Sec. 4.3 and Table 2).

Each sample is scored by how many correspondences the references have with its *filled region*
(the mask dilated by ``margin`` pixels): SIFT features of the sample inside that region matched
to each reference (Lowe's ratio test), kept if they are RANSAC inliers of a fundamental matrix
(general 3-D scenes, not only planes), summed over the references. Higher = more faithful to
the references; the lowest-ranked fraction of samples is dropped. The reference side is
computed once per scene.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .scene import Scene

DEFAULTS = {"matcher": "sift", "margin": 16, "ratio": 0.8, "ransac_px": 3.0, "max_features": 4000,
            "max_side": 1024}


def _grey(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), scale


@dataclass
class CorrespondenceScorer:
    """Counts reference correspondences in a sample's filled region."""

    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.options = {**DEFAULTS, **self.options}
        if self.options["matcher"] != "sift":
            raise ValueError(f"matcher '{self.options['matcher']}' is not available (sift is)")
        self._refs: dict[str, list] = {}

    def protocol(self) -> dict[str, Any]:
        return {"score": "RANSAC (fundamental matrix) inliers of ratio-test SIFT matches, summed over references",
                **self.options}

    def _sift(self):
        return cv2.SIFT_create(nfeatures=int(self.options["max_features"]))

    def _reference_features(self, scene: Scene) -> list:
        if scene.checksum not in self._refs:
            sift = self._sift()
            feats = []
            for ref in scene.refs:
                grey, scale = _grey(ref, int(self.options["max_side"]))
                kp, des = sift.detectAndCompute(grey, None)
                feats.append((np.float32([k.pt for k in kp]) / scale if kp else np.zeros((0, 2), np.float32), des))
            self._refs[scene.checksum] = feats
        return self._refs[scene.checksum]

    def region(self, scene: Scene) -> np.ndarray:
        margin = int(self.options["margin"])
        if margin <= 0:
            return scene.mask.copy()
        return cv2.dilate(scene.mask.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)) > 0

    def score(self, scene: Scene, image: np.ndarray) -> int:
        cv2.setRNGSeed(0)
        grey, scale = _grey(image, int(self.options["max_side"]))
        region = cv2.resize(self.region(scene).astype(np.uint8), (grey.shape[1], grey.shape[0]),
                            interpolation=cv2.INTER_NEAREST)
        kp, des = self._sift().detectAndCompute(grey, region * 255)
        if des is None or len(kp) < 8:
            return 0
        points = np.float32([k.pt for k in kp]) / scale
        matcher = cv2.BFMatcher(cv2.NORM_L2)
        total = 0
        for ref_points, ref_des in self._reference_features(scene):
            if ref_des is None or len(ref_des) < 2:
                continue
            pairs = matcher.knnMatch(des, ref_des, k=2)
            good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < self.options["ratio"] * n.distance]
            if len(good) < 8:
                continue
            a = points[[m.queryIdx for m in good]]
            b = ref_points[[m.trainIdx for m in good]]
            _, inliers = cv2.findFundamentalMat(a, b, cv2.FM_RANSAC, float(self.options["ransac_px"]), 0.999)
            total += int(inliers.sum()) if inliers is not None else 0
        return total


def keep_count(n: int, filter_rate: float) -> int:
    """Samples kept when the lowest ``filter_rate`` percent are dropped (at least one)."""
    return max(1, n - int(np.floor(n * filter_rate / 100.0 + 1e-9)))
