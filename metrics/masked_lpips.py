"""LPIPS v0.1 (AlexNet trunk, the ``lpips`` package's learned linear layers) inside the mask.

Three conventions exist in public RealBench reproductions; all are registered so a user can
match a paper (see metrics/README.md):

- ``lpips``: the ``spatial=True`` distance map of the full images, averaged over masked pixels
  (the default: each filled pixel is judged in its real context);
- ``lpips_bbox``: both images cropped to the mask's bounding box, whole-crop LPIPS;
- ``lpips_zeroed``: both images scaled to [-1, 1], then multiplied by the mask (known pixels 0,
  mid-grey), whole-image LPIPS: the public RealBench scripts' convention (eric15342335/realfill
  ``benchmark/lpips_metric.py``, harsh-vpatel/realfill ``eval.py``). Version 1 multiplied before
  scaling (known pixels black), which those scripts do not do.

The forward pass is the ``lpips`` package's own modules, split so that the ground-truth
features are computed once per scene. Tested against ``lpips.LPIPS(...)`` to 1e-6.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from realbench.weights import resolve

from ._torch import batches, cached_model, pick_device, to_tensor
from .base import BatchOptions, Metric, MetricInfo

MIN_CROP = 64  # AlexNet's five stages need at least this many pixels per side


def load_lpips(alexnet_path: str, device) -> Any:
    """``lpips.LPIPS`` (v0.1, alex) whose trunk comes from ``alexnet_path`` (torchvision format)."""
    import warnings

    import lpips
    import torch

    with warnings.catch_warnings():  # lpips uses torchvision's deprecated `pretrained=` argument
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, spatial=True, verbose=False)
    state = torch.load(alexnet_path, map_location="cpu", weights_only=True)
    slices = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}  # torchvision features index -> lpips slice
    trunk = {}
    for index, slice_number in slices.items():
        for param in ("weight", "bias"):
            trunk[f"slice{slice_number}.{index}.{param}"] = state[f"features.{index}.{param}"]
    model.net.load_state_dict(trunk)
    return model.eval().requires_grad_(False).to(device)


def bbox(mask: np.ndarray, minimum: int = MIN_CROP) -> tuple[slice, slice]:
    """Bounding box of the mask, grown (centred, clamped) to at least ``minimum`` pixels a side."""
    ys, xs = np.nonzero(mask)
    out = []
    for lo, hi, size in ((ys.min(), ys.max() + 1, mask.shape[0]), (xs.min(), xs.max() + 1, mask.shape[1])):
        if hi - lo < minimum:
            centre = (lo + hi) // 2
            lo = max(0, min(centre - minimum // 2, size - minimum))
            hi = min(size, lo + minimum)
        out.append(slice(int(lo), int(hi)))
    return out[0], out[1]


class MaskedLPIPS(Metric):
    info = MetricInfo(
        name="lpips", higher_is_better=False, range=(0.0, 1.0), level="low", region="mask", needs_weights=True,
        description="LPIPS v0.1 AlexNet, spatial map averaged over the masked pixels",
    )
    variant = "mask"
    Options = BatchOptions

    def required_weights(self) -> list[str]:
        return ["alexnet"]

    def load(self) -> None:
        if getattr(self, "_model", None) is None:
            self._resolved = resolve("alexnet", self.weights)
            self._device = pick_device(self.device)
            self._model = cached_model(("lpips", str(self._resolved.path), str(self._device)),
                                       lambda: load_lpips(str(self._resolved.path), self._device))

    def protocol(self) -> dict[str, Any]:
        self.load()
        return {
            "model": "lpips v0.1 alex (linear layers from the lpips package)", "variant": self.variant,
            "weights": self._resolved.id, "input": "RGB scaled to [-1, 1], full resolution, no resizing",
            "region": {"mask": "spatial map (bilinear upsampling) averaged over masked pixels",
                       "bbox": f"crop to the mask's bounding box (at least {MIN_CROP} px a side), spatial mean",
                       "zeroed": "both images scaled to [-1, 1], then multiplied by the binary mask (known "
                                 "pixels 0); spatial mean over the whole image"}[self.variant],
        }

    # --- the lpips forward, split in two halves ---------------------------------------------
    def _features(self, images: Sequence[np.ndarray], scene=None) -> list:
        import lpips
        import torch

        x = to_tensor(images, self._device) * 2.0 - 1.0
        if self.variant == "zeroed":  # scale first, then mask: known pixels become 0
            x = x * torch.from_numpy(np.array(scene.mask, dtype=np.float32)).to(self._device)
        outs = self._model.net(self._model.scaling_layer(x))
        return [lpips.normalize_tensor(out) for out in outs]

    def _distance(self, feats_pred: list, feats_gt: list, size: tuple[int, int], spatial: bool):
        from lpips.lpips import spatial_average, upsample

        total = 0
        for k, (fp, fg) in enumerate(zip(feats_pred, feats_gt)):
            diff = self._model.lins[k]((fp - fg) ** 2)
            total = total + (upsample(diff, out_HW=size) if spatial else spatial_average(diff, keepdim=True))
        return total

    def _view(self, scene, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        if self.variant == "bbox":
            rows, cols = bbox(scene.mask)
            return [np.ascontiguousarray(image[rows, cols]) for image in images]
        return list(images)

    def prepare(self, scene):
        import torch

        self.load()
        with torch.no_grad():
            return self._features(self._view(scene, [scene.gt]), scene)

    def score(self, state, scene, images: Sequence[np.ndarray]) -> list[float]:
        import torch

        self.load()
        values: list[float] = []
        mask = torch.from_numpy(np.array(scene.mask)).to(self._device)
        with torch.no_grad():
            for chunk in batches(self._view(scene, images), int(self.options["batch_size"])):
                feats = self._features(chunk, scene)
                gt = [f.expand(len(chunk), -1, -1, -1) for f in state]
                if self.variant == "mask":
                    dmap = self._distance(feats, gt, scene.mask.shape, spatial=True)[:, 0]
                    values += [float(d[mask].double().mean()) for d in dmap]
                else:
                    values += [float(d) for d in self._distance(feats, gt, chunk[0].shape[:2], spatial=False).flatten()]
        return values


class BBoxLPIPS(MaskedLPIPS):
    info = MetricInfo(
        name="lpips_bbox", higher_is_better=False, range=(0.0, 1.0), level="low", region="mask", needs_weights=True,
        description="LPIPS v0.1 AlexNet of both images cropped to the mask's bounding box",
    )
    variant = "bbox"


class ZeroedLPIPS(MaskedLPIPS):
    info = MetricInfo(
        name="lpips_zeroed", higher_is_better=False, range=(0.0, 1.0), level="low", region="mask", needs_weights=True,
        description="LPIPS v0.1 AlexNet of both images scaled to [-1, 1], then multiplied by the mask", version=2,
    )
    variant = "zeroed"
