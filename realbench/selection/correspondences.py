"""Correspondence-based seed selection (RealFill, Sec. 4.3 and Table 2).

Each sample is scored by how many correspondences the references have with its *filled region*
(the mask dilated by ``margin`` pixels), kept if they are RANSAC inliers of a fundamental matrix
(general 3-D scenes, not only planes), summed over the references. Higher = more faithful to
the references; the lowest-ranked fraction of samples is dropped.

Matchers: ``sift`` (default, weight-free: SIFT + Lowe's ratio test, reference features computed
once per scene) and ``loftr`` (kornia's LoFTR, outdoor weights from the weight resolver, as the
RealFill paper used), on images scaled to at most ``max_side`` pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from realbench.core.devices import pick_device
from realbench.core.errors import RealBenchError, describe
from realbench.core.imageops import dilate, ratio_matches, sift
from realbench.core.scene import Scene
from realbench.core.settings import as_dict, parse_settings, setting
from realbench.weights import WeightSpec, register_weights, resolve

MATCHERS = ("sift", "loftr")
LOFTR = register_weights(WeightSpec(
    "loftr-outdoor", "url_file", "LoFTR outdoor matcher (kornia), for correspondence-based seed selection",
    url="https://huggingface.co/kornia/loftr/resolve/main/loftr_outdoor.ckpt", needs=(("loftr_outdoor.ckpt",),)))


@dataclass
class SelectionSettings:
    matcher: str = setting("sift", help="sift (weight-free) or loftr (kornia, needs weights)")
    margin: int = setting(16, min=0, max=1024, help="the filled region is the mask grown by this many pixels")
    ratio: float = setting(0.8, above=0, max=1, help="Lowe's ratio test threshold (SIFT)")
    ransac_px: float = setting(3.0, above=0, max=1000, help="RANSAC threshold of the fundamental matrix (pixels)")
    max_features: int = setting(4000, min=1, max=1_000_000, help="SIFT features per image")
    max_side: int = setting(1024, min=16, max=16384, help="images are matched at most this large (SIFT)")
    loftr_side: int = setting(640, min=32, max=8192, help="images are matched at most this large (LoFTR)")
    loftr_confidence: float = setting(0.5, min=0, max=1, help="LoFTR matches below this confidence are dropped")
    device: str | None = setting(None, help="torch device of the LoFTR matcher")




def _grey(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale < 1.0:
        if min(image.shape[:2]) * scale >= 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        else:  # a sliver (1x4000): cv2 would shrink a side to 0 pixels
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), scale


@dataclass
class CorrespondenceScorer:
    """Counts reference correspondences in a sample's filled region."""

    options: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, str] = field(default_factory=dict)  # --weights overrides (loftr-outdoor=PATH)
    device: str | None = None  # --device; where LoFTR runs is not part of the protocol

    LOFTR_WEIGHTS = LOFTR.name  # the weights the loftr matcher needs (`realbench doctor` lists them)

    def __post_init__(self) -> None:
        self.options = as_dict(parse_settings(SelectionSettings, dict(self.options), "seed selection"))
        if self.options["matcher"] not in MATCHERS:
            raise RealBenchError(f"selection matcher '{self.options['matcher']}' is unknown "
                                 f"(one of {', '.join(MATCHERS)})")
        self._refs: dict[str, list] = {}
        self._loftr = None
        if self.options["matcher"] == "loftr":
            self._loftr_weights = resolve(self.LOFTR_WEIGHTS, self.weights)  # missing: clear error now

    def protocol(self) -> dict[str, Any]:
        matcher = ("ratio-test SIFT matches" if self.options["matcher"] == "sift"
                   else f"LoFTR matches (confidence >= {self.options['loftr_confidence']})")
        out = {"score": f"RANSAC (fundamental matrix) inliers of {matcher}, summed over references",
               **{k: v for k, v in self.options.items() if k != "device"}}
        if self.options["matcher"] == "loftr":
            out["weights"] = self._loftr_weights.id
        return out

    def _sift(self):
        return sift(self.options["max_features"])

    def _reference_features(self, scene: Scene) -> list:
        if scene.checksum not in self._refs:
            sift = self._sift()
            feats = []
            for ref in scene.refs:
                grey, scale = _grey(ref, int(self.options["max_side"]))
                kp, des = sift.detectAndCompute(grey, None)
                points = np.array([k.pt for k in kp], dtype=np.float32) / scale if kp else np.zeros((0, 2), np.float32)
                feats.append((points, des))
            self._refs[scene.checksum] = feats
        return self._refs[scene.checksum]

    def region(self, scene: Scene) -> np.ndarray:
        margin = int(self.options["margin"])
        if margin <= 0:
            return scene.mask.copy()
        return dilate(scene.mask, margin)

    def _loftr_model(self):
        if self._loftr is None:
            import torch
            from kornia.feature import LoFTR

            device = pick_device(self.options["device"] or self.device)
            model = LoFTR(pretrained=None)
            try:  # weights_only: a checkpoint that needs unpickling of anything but tensors is refused
                state = torch.load(self._loftr_weights.path, map_location="cpu", weights_only=True)
                model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
            except Exception as exc:
                raise RealBenchError(f"cannot load the LoFTR weights as a plain state dict ({describe(exc)})",
                                     path=str(self._loftr_weights.path)) from None
            self._loftr = (model.eval().to(device), device)
        return self._loftr

    def _loftr_score(self, scene: Scene, image: np.ndarray, region: np.ndarray) -> int:
        import torch

        model, device = self._loftr_model()
        side = int(self.options["loftr_side"])

        def tensor(array: np.ndarray):
            grey = cv2.cvtColor(array, cv2.COLOR_RGB2GRAY)
            scale = min(1.0, side / max(grey.shape))
            h, w = (max(8, int(round(d * scale / 8)) * 8) for d in grey.shape)
            resized = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA)
            factors = np.array([grey.shape[1] / w, grey.shape[0] / h], dtype=np.float32)
            return torch.from_numpy(resized).float()[None, None].to(device) / 255.0, factors

        sample, f0 = tensor(image)
        total = 0
        for ref in scene.refs:
            other, f1 = tensor(ref)
            with torch.no_grad():
                out = model({"image0": sample, "image1": other})
            keep = (out["confidence"] >= float(self.options["loftr_confidence"])).cpu().numpy()
            a = out["keypoints0"].cpu().numpy()[keep] * f0
            b = out["keypoints1"].cpu().numpy()[keep] * f1
            if len(a):
                xs = np.clip(a[:, 0].astype(int), 0, region.shape[1] - 1)
                ys = np.clip(a[:, 1].astype(int), 0, region.shape[0] - 1)
                inside = region[ys, xs]
                a, b = a[inside], b[inside]
            if len(a) < 8:
                continue
            _, inliers = cv2.findFundamentalMat(a, b, cv2.FM_RANSAC, float(self.options["ransac_px"]), 0.999)
            total += int(inliers.sum()) if inliers is not None else 0
        return total

    def score(self, scene: Scene, image: np.ndarray) -> int:
        cv2.setRNGSeed(0)
        if self.options["matcher"] == "loftr":
            return self._loftr_score(scene, image, self.region(scene))
        grey, scale = _grey(image, int(self.options["max_side"]))
        region = cv2.resize(self.region(scene).astype(np.uint8), (grey.shape[1], grey.shape[0]),
                            interpolation=cv2.INTER_NEAREST)
        kp, des = self._sift().detectAndCompute(grey, region * 255)
        if des is None or len(kp) < 8:
            return 0
        points = np.array([k.pt for k in kp], dtype=np.float32) / scale
        total = 0
        for ref_points, ref_des in self._reference_features(scene):
            if ref_des is None or len(ref_des) < 2:
                continue
            good = ratio_matches(des, ref_des, self.options["ratio"])
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
