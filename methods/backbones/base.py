"""The base-model seam of RealFill: what fine-tuning and sampling need from an inpainting model.

RealFill itself (LoRA on the denoiser and the text encoders, the masked loss, DDPM sampling) does
not depend on the base model; loading its parts, turning prompts into the denoiser's
conditioning and assembling the diffusers pipeline do. A backbone is that difference, one file
each, registered by the pipeline class a model's ``model_index.json`` names, so ``--model`` alone
picks it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from realbench.errors import RealBenchError
from realbench.registry import Registry

BACKBONES = Registry("base model", package="realbench.methods.backbones")


class Backbone:
    """One family of inpainting base models (SD 1/2 inpainting, SDXL inpainting, ...)."""

    name: ClassVar[str]
    pipeline_classes: ClassVar[tuple[str, ...]]  # the model_index.json ``_class_name`` values it handles
    text_encoders: ClassVar[tuple[str, ...]]  # subfolders of the text encoders that get LoRA adapters
    tokenizers: ClassVar[tuple[str, ...]]  # their tokenizers, in the same order

    def __init__(self, path: Path, device):
        self.path, self.device = Path(path), device
        self.index = read_model_index(self.path)

    def load_frozen(self) -> dict[str, Any]:
        """The parts no scene changes: VAE (float32, frozen), tokenizers, the training noise schedule."""
        from diffusers import AutoencoderKL, DDPMScheduler
        from transformers import CLIPTokenizer

        vae = AutoencoderKL.from_pretrained(
            str(self.path), subfolder="vae").to(self.device).eval().requires_grad_(False)
        noise_scheduler = DDPMScheduler.from_pretrained(str(self.path), subfolder="scheduler")
        if noise_scheduler.config.prediction_type != "epsilon":
            raise RealBenchError(f"RealFill's loss predicts the noise, but this model predicts "
                                 f"'{noise_scheduler.config.prediction_type}'", path=str(self.path))
        tokenizers = [CLIPTokenizer.from_pretrained(str(self.path), subfolder=sub) for sub in self.tokenizers]
        return {"vae": vae, "tokenizers": tokenizers, "noise_scheduler": noise_scheduler}

    def load_trainable(self) -> dict[str, Any]:
        """Fresh copies of the models LoRA adapts: ``unet`` and each text encoder, by subfolder."""
        raise NotImplementedError

    def lora_targets(self, unet_targets: list[str], text_targets: list[str]) -> dict[str, list[str]]:
        """Which modules of each trainable model get LoRA adapters."""
        return {"unet": list(unet_targets), **{name: list(text_targets) for name in self.text_encoders}}

    def tokenize(self, tokenizers: list, prompts: list[str]) -> list:
        """Token ids of ``prompts`` for each tokenizer (padded to its full length, as training does)."""
        return [tok(prompts, padding="max_length", truncation=True, max_length=tok.model_max_length,
                    return_tensors="pt").input_ids.to(self.device) for tok in tokenizers]

    def encode(self, text_encoders: dict[str, Any], ids: list, rows: list[int],
               size: tuple[int, int]) -> tuple[Any, dict[str, Any] | None]:
        """The denoiser's conditioning for prompts ``rows`` of ``ids`` at image ``size`` (h, w):
        encoder hidden states, and the extra ``added_cond_kwargs`` the denoiser takes, if any."""
        raise NotImplementedError

    def pipeline(self, frozen: dict[str, Any], models: dict[str, Any], scheduler):
        """The diffusers inpainting pipeline for sampling, from the fitted (merged) models."""
        raise NotImplementedError


def read_model_index(path: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(path) / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise RealBenchError("not a diffusers model folder (no readable model_index.json)", path=str(path)) from None


def backbone_for(path: Path, device) -> Backbone:
    """The backbone of the model at ``path``, from the pipeline class its model_index.json names."""
    pipeline_class = read_model_index(path).get("_class_name")
    known = {}
    for name in BACKBONES.names():
        cls = BACKBONES.get(name)
        for handled in cls.pipeline_classes:
            known[handled] = cls
    if pipeline_class not in known:
        raise RealBenchError(f"RealFill has no backbone for '{pipeline_class}' models (known: "
                             f"{', '.join(sorted(known))}); add one in realbench/methods/backbones/", path=str(path))
    return known[pipeline_class](path, device)
