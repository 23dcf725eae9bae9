"""``dino``: cosine similarity of the CLS embeddings of DINO ViT-S/16 (v1) for the full images, the
high-level column of RealFill's Table 1.

The embedding is the final layer-normed CLS token (transformers' ``last_hidden_state[:, 0]``,
which is what DINO's own ``VisionTransformer.forward`` returns). Preprocessing is DINO's own, not
the hub checkpoint's generic ViT processor (bilinear, mean = std = 0.5): the full image resized to
224x224 (bicubic), ImageNet mean/std. Variants in their own files: ``dino_crop`` (the DINO
repository's evaluation transform) and ``dinov2``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from realbench.weights import WeightSpec, register_weights, resolve

from ._torch import cached_model, pick_device, real_path
from .base import METRICS, MetricInfo
from .embedding import EmbeddingMetric

DINO_VITS16 = register_weights(WeightSpec(
    "dino-vits16", "hf_repo", "DINO ViT-S/16 (v1), transformers format", repo_id="facebook/dino-vits16",
    needs=(("config.json",), ("model.safetensors", "pytorch_model.bin"))))

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_vit(path: str, device):
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, ViTModel

    if AutoConfig.from_pretrained(path).model_type == "vit":  # DINO v1 checkpoints carry no pooler
        model, processor = ViTModel.from_pretrained(path, add_pooling_layer=False), None
    else:
        model, processor = AutoModel.from_pretrained(path), AutoImageProcessor.from_pretrained(path)
    return model.eval().requires_grad_(False).to(device), processor


def dino_transform(crop: bool):
    """DINO's own preprocessing (torchvision on PIL images, bicubic = interpolation 3)."""
    from torchvision import transforms

    resize = ([transforms.Resize(256, interpolation=transforms.InterpolationMode.BICUBIC), transforms.CenterCrop(224)]
              if crop else [transforms.Resize((224, 224), interpolation=transforms.InterpolationMode.BICUBIC)])
    return transforms.Compose([*resize, transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def _plain(value):
    """JSON-able copy of processor settings (SizeDict, enums, tuples)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in dict(value).items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def processor_settings(processor) -> dict[str, Any]:
    """What a transformers image processor does, JSON-able, for the protocol."""
    proc = processor.to_dict()
    keys = ("size", "crop_size", "do_center_crop", "resample", "do_rescale", "rescale_factor", "image_mean",
            "image_std")
    return {"class": type(processor).__name__, **{k: _plain(proc.get(k)) for k in keys if k in proc}}


@METRICS.register("dino")
class DINO(EmbeddingMetric):
    info = MetricInfo(
        name="dino", higher_is_better=True, range=(-1.0, 1.0), level="high", region="full", needs_weights=True,
        description="cosine similarity of DINO ViT-S/16 CLS embeddings, full image resized to 224 (ImageNet norm)",
        version=2,
    )
    weights_name = DINO_VITS16.name
    crop = False

    def required_weights(self) -> list[str]:
        return [self.weights_name]

    def load(self) -> None:
        if getattr(self, "_model", None) is None:
            self._resolved = resolve(self.weights_name, self.weights)
            self._device = pick_device(self.device)
            self._model, self._processor = cached_model(
                ("vit", real_path(self._resolved.path), str(self._device)),
                lambda: load_vit(str(self._resolved.path), self._device))
            self._transform = dino_transform(self.crop)

    def preprocess_description(self) -> dict[str, Any]:
        steps = ("Resize(256, bicubic) + CenterCrop(224)" if self.crop else "Resize((224, 224), bicubic), full image")
        return {"transform": f"torchvision on PIL: {steps}, ToTensor, Normalize(ImageNet mean/std)",
                "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}

    def protocol(self) -> dict[str, Any]:
        self.load()
        return {
            "model": self.weights_name, "weights": self._resolved.id,
            "embedding": "last_hidden_state[:, 0] (CLS after the final layer norm)",
            "preprocess": self.preprocess_description(), "region": "full image", "score": "cosine similarity",
        }

    def embed(self, images):
        import torch
        from PIL import Image

        pixels = torch.stack([self._transform(Image.fromarray(np.asarray(i))) for i in images]).to(self._device)
        return self._model(pixel_values=pixels).last_hidden_state[:, 0]
