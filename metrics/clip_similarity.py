"""CLIP: cosine similarity of OpenCLIP image embeddings of the full images (ViT-B-32 with
OpenAI's weights by default; ``--metric-set clip.model=... clip.pretrained=...`` for others).

The weights come from the hub repository OpenCLIP itself downloads for that (model, tag); when
that repository carries ``open_clip_config.json`` (the model and preprocessing config published
with the weights, as ``timm/vit_base_patch32_clip_224.openai`` does), the model is built from it
exactly as ``open_clip.create_model_and_transforms('hf-hub:<repo>')`` would, else from OpenCLIP's
built-in config for the name. Preprocessing is OpenCLIP's own validation transform (resize the
shorter side to 224, bicubic, centre crop, CLIP mean/std), the same as OpenAI's ``clip`` package
(harsh-vpatel/realfill's ``eval.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realbench.core.settings import setting
from realbench.weights import SPECS, WeightSpec, register_weights, resolve

from ._torch import cached_model, pick_device, real_path
from .base import METRICS, BatchOptions, MetricInfo
from .embedding import EmbeddingMetric

WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def clip_weights(model: str, pretrained: str) -> tuple[str, bool]:
    """The weights name for an OpenCLIP (model, tag), registering its hub repository on first
    use, and whether the tag's weights need QuickGELU (OpenAI's do)."""
    import open_clip

    name = f"clip-{model.lower()}-{pretrained.lower()}"
    cfg = open_clip.get_pretrained_cfg(model, pretrained) or {}
    if name not in SPECS:
        repo = (cfg.get("hf_hub") or "").rstrip("/") or None
        if repo is None and cfg.get("url"):  # tags published only as a plain file
            url = cfg["url"]
            register_weights(WeightSpec(name, "url_file", f"OpenCLIP {model} ({pretrained})", url=url,
                                        needs=((url.rsplit("/", 1)[-1],),)))
        else:
            register_weights(WeightSpec(name, "hf_repo", f"OpenCLIP {model} ({pretrained})", repo_id=repo,
                                        needs=(WEIGHT_FILES,), optional=("open_clip_config.json",)))
    return name, bool(cfg.get("quick_gelu", False))


def load_open_clip(model: str, folder: str, weights_file: str, quick_gelu: bool, device):
    """From the repository's ``open_clip_config.json`` when it has one (``local-dir:``), else the
    built-in config of ``model`` with the weights file."""
    import open_clip

    if (Path(folder) / "open_clip_config.json").is_file():
        net, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}", device=device)
    else:
        net, _, preprocess = open_clip.create_model_and_transforms(
            model, pretrained=weights_file, force_quick_gelu=quick_gelu, device=device)
    return net.eval().requires_grad_(False), preprocess


@dataclass
class CLIPOptions(BatchOptions):
    model: str = setting("ViT-B-32", help="OpenCLIP model name")
    pretrained: str = setting("openai", help="OpenCLIP pretrained tag")


@METRICS.register("clip")
class CLIP(EmbeddingMetric):
    info = MetricInfo(
        name="clip", higher_is_better=True, range=(-1.0, 1.0), level="high", region="full", needs_weights=True,
        description="cosine similarity of OpenCLIP ViT-B-32 (OpenAI) image embeddings, full image",
    )
    Options = CLIPOptions

    def required_weights(self) -> list[str]:
        return [clip_weights(self.options["model"], self.options["pretrained"])[0]]

    def load(self) -> None:
        if getattr(self, "_model", None) is None:
            name, quick_gelu = clip_weights(self.options["model"], self.options["pretrained"])
            self._resolved = resolve(name, self.weights)
            self._device = pick_device(self.device)
            weights_file = str(self._resolved.files[0])
            folder = str(Path(weights_file).parent)
            self._model, self._preprocess = cached_model(
                ("open_clip", self.options["model"], real_path(folder), str(self._device)),
                lambda: load_open_clip(self.options["model"], folder, weights_file, quick_gelu, self._device))

    def protocol(self) -> dict[str, Any]:
        self.load()
        config = Path(self._resolved.files[0]).parent / "open_clip_config.json"
        return {
            "model": f"open_clip {self.options['model']}", "pretrained": self.options["pretrained"],
            "weights": self._resolved.id,
            "config": "open_clip_config.json of the weights' repository" if config.is_file() else "open_clip built-in",
            "preprocess": repr(self._preprocess).replace("\n", " "),
            "embedding": "encode_image", "region": "full image", "score": "cosine similarity",
        }

    def embed(self, images):
        import torch
        from PIL import Image

        pixels = torch.stack([self._preprocess(Image.fromarray(image)) for image in images]).to(self._device)
        return self._model.encode_image(pixels)
