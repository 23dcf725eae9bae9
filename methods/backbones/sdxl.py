"""SDXL inpainting (e.g. diffusers/stable-diffusion-xl-1.0-inpainting-0.1): two text encoders whose
penultimate hidden states are concatenated, the second one's pooled projection, and the
micro-conditioning time ids (original size, crop corner, target size) as ``added_cond_kwargs``,
exactly as ``StableDiffusionXLInpaintPipeline.encode_prompt`` and ``_get_add_time_ids`` build them.
Latents, noising, the 9-channel UNet input and the samplers are the latent-diffusion defaults of
``base.Backbone``. Training crops are square and uncropped: original and target size are the crop size, corner (0, 0).
"""
from __future__ import annotations

from typing import Any

from .base import BACKBONES, Backbone

AESTHETIC_SCORE = 6.0  # the pipeline's default, for models that condition on it (refiner-style)


@BACKBONES.register("sdxl")
class SDXLInpainting(Backbone):
    name = "sdxl"
    pipeline_classes = ("StableDiffusionXLInpaintPipeline",)
    text_encoders = ("text_encoder", "text_encoder_2")
    tokenizers = ("tokenizer", "tokenizer_2")

    @property
    def requires_aesthetics_score(self) -> bool:
        return bool(self.index.get("requires_aesthetics_score", False))

    def load_trainable(self) -> dict[str, Any]:
        from diffusers import UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTextModelWithProjection

        path = str(self.path)
        return {"unet": UNet2DConditionModel.from_pretrained(path, subfolder="unet").to(self.device),
                "text_encoder": CLIPTextModel.from_pretrained(path, subfolder="text_encoder").to(self.device),
                "text_encoder_2": CLIPTextModelWithProjection.from_pretrained(
                    path, subfolder="text_encoder_2").to(self.device)}

    def encode(self, text_encoders, ids, rows, size):
        import torch

        hidden, pooled = [], None
        for name, token_ids in zip(self.text_encoders, ids):
            out = text_encoders[name](token_ids[rows], output_hidden_states=True)
            if out[0].ndim == 2:  # the projection model's pooled text embedding
                pooled = out[0]
            hidden.append(out.hidden_states[-2])
        h, w = size
        extra = [AESTHETIC_SCORE] if self.requires_aesthetics_score else [h, w]
        time_ids = torch.tensor([[h, w, 0, 0, *extra]] * len(rows), dtype=pooled.dtype, device=pooled.device)
        return torch.cat(hidden, dim=-1), {"text_embeds": pooled, "time_ids": time_ids}

    def pipeline(self, frozen, models, scheduler):
        from diffusers import StableDiffusionXLInpaintPipeline

        first, second = frozen["tokenizers"]
        return StableDiffusionXLInpaintPipeline(
            vae=frozen["vae"], text_encoder=models["text_encoder"], text_encoder_2=models["text_encoder_2"],
            tokenizer=first, tokenizer_2=second, unet=models["unet"], scheduler=scheduler,
            requires_aesthetics_score=self.requires_aesthetics_score,
            force_zeros_for_empty_prompt=bool(self.index.get("force_zeros_for_empty_prompt", True)))
