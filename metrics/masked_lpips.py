"""``lpips``: LPIPS v0.1 (AlexNet trunk, the ``lpips`` package's learned linear layers) inside the
mask, as the ``spatial=True`` distance map of the full images averaged over the masked pixels: each
filled pixel is judged in its real context. Two other conventions of public RealBench
reproductions are variants in their own files (``lpips_bbox.py``, ``lpips_zeroed.py``), built on
the hooks here (``view``, ``network_input``, ``spatial``).

The forward pass is the ``lpips`` package's own modules, split so that the ground-truth features
are computed once per scene. Tested against ``lpips.LPIPS(...)`` to 1e-6.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from realbench.weights import WeightSpec, register_weights, resolve

from ._torch import batch_size, batches, cached_model, forward_context, pick_device, real_path, to_tensor
from .base import METRICS, BatchOptions, Metric, MetricInfo

MIN_CROP = 64  # AlexNet's five stages need at least this many pixels per side
GPU_BATCH_PIXELS = 64 * 2 ** 20  # pixels per forward on a GPU: 64 images of 1024 px, 256 of 512 px
CPU_BATCH = 4  # on the CPU larger batches are slower (measured: 4 beats 1 and 16 at 512 px)

ALEXNET = register_weights(WeightSpec(
    "alexnet", "url_file", "ImageNet AlexNet trunk of LPIPS (torchvision IMAGENET1K_V1)",
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", needs=(("alexnet-owt-7be5be79.pth",),)))


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
    model.net.to(memory_format=torch.channels_last)
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


@METRICS.register("lpips")
class MaskedLPIPS(Metric):
    info = MetricInfo(
        name="lpips", higher_is_better=False, range=(0.0, 1.0), level="low", region="mask", needs_weights=True,
        description="LPIPS v0.1 AlexNet, spatial map averaged over the masked pixels",
    )
    Options = BatchOptions
    persist_ground_truth = True
    variant = "mask"  # recorded in the protocol
    spatial = True  # the distance map, averaged over the masked pixels; False: one whole-image value
    region = "spatial map (bilinear upsampling) averaged over masked pixels"

    def required_weights(self) -> list[str]:
        return [ALEXNET.name]

    def load(self) -> None:
        if getattr(self, "_model", None) is None:
            self._resolved = resolve(ALEXNET.name, self.weights)
            self._device = pick_device(self.device)
            self._model = cached_model(("lpips", real_path(self._resolved.path), str(self._device)),
                                       lambda: load_lpips(str(self._resolved.path), self._device))

    def protocol(self) -> dict[str, Any]:
        self.load()
        return {
            "model": "lpips v0.1 alex (linear layers from the lpips package)", "variant": self.variant,
            "weights": self._resolved.id, "input": "RGB scaled to [-1, 1], full resolution, no resizing",
            "region": self.region,
        }

    # --- hooks of the variants -----------------------------------------------------------
    def view(self, scene, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The pixels compared (the full images here)."""
        return list(images)

    def network_input(self, x, scene):
        """Images scaled to [-1, 1] as LPIPS expects -> what enters the network."""
        return x

    # --- the lpips forward, split in two halves ---------------------------------------------
    def _features(self, images: Sequence[np.ndarray], scene) -> list:
        import lpips
        import torch

        x = self.network_input(to_tensor(images, self._device) * 2.0 - 1.0, scene)
        # channels-last: the convolutions' fast layout on CPUs and tensor cores alike
        outs = self._model.net(self._model.scaling_layer(x).contiguous(memory_format=torch.channels_last))
        return [lpips.normalize_tensor(out.float()) for out in outs]

    def _distance(self, feats_pred: list, feats_gt: list, size: tuple[int, int]):
        from lpips.lpips import spatial_average, upsample

        total = 0
        for k, (fp, fg) in enumerate(zip(feats_pred, feats_gt)):
            diff = self._model.lins[k]((fp - fg) ** 2)
            total = total + (upsample(diff, out_HW=size) if self.spatial else spatial_average(diff, keepdim=True))
        return total

    def prepare(self, scene):
        self.load()
        with forward_context(self._device, self.options["precision"]):
            return self._features(self.view(scene, [scene.gt]), scene)

    def score(self, state, scene, images: Sequence[np.ndarray]) -> list[float]:
        import torch

        self.load()
        values: list[float] = []
        mask = torch.from_numpy(np.array(scene.mask)).to(self._device)
        views = self.view(scene, images)
        pixels = views[0].shape[0] * views[0].shape[1] if views else 1
        size = batch_size(self.options["batch_size"], self._device, len(views), pixels, GPU_BATCH_PIXELS, CPU_BATCH)
        with forward_context(self._device, self.options["precision"]):
            for chunk in batches(views, size):
                feats = self._features(chunk, scene)
                gt = [f.expand(len(chunk), -1, -1, -1) for f in state]
                distance = self._distance(feats, gt, chunk[0].shape[:2])
                if self.spatial:
                    values += [float(d[mask].double().mean()) for d in distance[:, 0]]
                else:
                    values += [float(d) for d in distance.flatten()]
        return values
