"""Stable Diffusion 1.x/2.x: inpainting models (RealFill's base, stabilityai/stable-diffusion-2-inpainting)
and text-to-image ones (DreamBooth's, stabilityai/stable-diffusion-2-base): one CLIP text encoder, its
last hidden state as the UNet's cross-attention input. Both sample through diffusers' inpainting
pipeline, which blends the noised known latents into every step when the UNet has 4 input channels.
Latents, noising (epsilon or v prediction), the UNet input and the samplers are the
latent-diffusion defaults of ``base.Backbone``."""
from __future__ import annotations

from typing import Any

from .base import BACKBONES, Backbone


@BACKBONES.register("sd2")
class SD2Inpainting(Backbone):
    name = "sd2"
    pipeline_classes = ("StableDiffusionInpaintPipeline",)
    text_to_image_classes = ("StableDiffusionPipeline",)
    text_encoders = ("text_encoder",)
    tokenizers = ("tokenizer",)

    def load_trainable(self) -> dict[str, Any]:
        from diffusers import UNet2DConditionModel
        from transformers import CLIPTextModel

        path = str(self.path)
        return {"unet": UNet2DConditionModel.from_pretrained(path, subfolder="unet").to(self.device),
                "text_encoder": CLIPTextModel.from_pretrained(path, subfolder="text_encoder").to(self.device)}

    def encode(self, text_encoders, ids, rows, size):
        return text_encoders["text_encoder"](ids[0][rows])[0], None

    def pipeline(self, frozen, models, scheduler):
        from diffusers import StableDiffusionInpaintPipeline

        return StableDiffusionInpaintPipeline(
            vae=frozen["vae"], text_encoder=models["text_encoder"], tokenizer=frozen["tokenizers"][0],
            unet=models["unet"], scheduler=scheduler, safety_checker=None, feature_extractor=None,
            requires_safety_checker=False)  # no black-image replacement of flagged samples
