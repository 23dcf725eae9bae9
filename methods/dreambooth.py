"""``dreambooth``: RealFill's DreamBooth baseline (Fig. 10). "Instead of finetuning an inpainting
model, an alternative is to finetune a standard Stable Diffusion model on the reference images,
i.e., DreamBooth, then use the finetuned T2I model to inpaint the target image [Lugmayr et al.
2022], as implemented in the popular Diffusers library."

prepare(scene): the LoRA fine-tune of ``realfill`` (same machinery and defaults: LoRA rank 8 on the
UNet and text encoder attention, AdamW 2e-4 / 4e-5 with warm-up, 2,000 steps, batch 16 at 512 px,
prompt "a photo of sks" dropped with p = 0.1, gradient accumulation, checkpoints), but of a
text-to-image model (Stable Diffusion 2 base by default, the 512 px model SD2 inpainting was
resumed from) on the scene's references only, with the plain denoising loss over the whole
image (4-channel UNet, no mask input; the target, noise or v, is the backbone's). generate(scene,
seeds): diffusers' inpainting pipeline with that 4-channel UNet, whose own path blends the
noised known latents into every step; DDPM, 200 steps, guidance 1, ``sample.strength`` (1.0; the
paper also shows 0.8 and 0.5), at the working resolution, composited as the other diffusion
methods are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from realbench.core.errors import RealBenchError
from realbench.core.settings import nested, setting

from .base import METHODS, MethodInfo
from .diffusion import SD2_BASE
from .realfill import FineTuneSettings, LoRAFineTune, LoRATrainSettings, SampleSettings, TrainContext
from .realfill_data import RealFillBatches, denoising_loss


@dataclass
class DreamBoothSampleSettings(SampleSettings):
    strength: float = setting(1.0, above=0, max=1,
                              help="how much of the denoising is run: 1 from pure noise; below 1 from the target "
                                   "noised to that level (the paper shows 1.0, 0.8 and 0.5)")


@dataclass
class DreamBoothSettings(FineTuneSettings):
    model: str = setting(SD2_BASE, help="base model: a text-to-image hub id or local diffusers folder (4-channel "
                                        "UNet); train.* are realfill's fine-tune and defaults (no masks)")
    train: LoRATrainSettings = nested(LoRATrainSettings)  # realfill's fine-tune settings, without its masks
    sample: DreamBoothSampleSettings = nested(DreamBoothSampleSettings)


@METHODS.register("dreambooth")
class DreamBooth(LoRAFineTune):
    info = MethodInfo("dreambooth", stochastic=True, needs_weights=True,
                      description="DreamBooth baseline (Fig. 10): realfill's LoRA fine-tune (same LoRA, optimiser, "
                                  "steps, batch, prompt dropout, checkpoints) of a text-to-image model (SD2 base) on "
                                  "the references only with the plain denoising loss, then diffusers' inpainting "
                                  "with the 4-channel UNet (known latents blended every step); only the base model "
                                  "and the objective differ from realfill")
    Settings = DreamBoothSettings
    task = "text-to-image"
    key_extra = {"objective": "denoising"}

    def __init__(self, config=None):
        super().__init__(config)
        if self.blank_canvas and self.strength < 1:
            raise RealBenchError(f"sample.canvas=blank generates from pure noise, so sample.strength must be 1 "
                                 f"(got {self.strength:g}): below 1 it would start from the target")
        if self.denoising_steps < 1:
            raise RealBenchError(f"sample.strength={self.strength:g} of sample.steps={self.settings.sample.steps} "
                                 "runs no denoising step; raise either")

    @property
    def strength(self) -> float:
        return float(self.settings.sample.strength)

    def make_batches(self, scene) -> RealFillBatches:
        train = self.settings.train
        return RealFillBatches(scene.refs, None, None, int(train.resolution), int(train.batch_size), int(train.seed),
                               prompt_dropout=float(train.prompt_dropout), draw_masks=False)

    def encode_batch(self, batch, ctx: TrainContext):
        return self.encode_pixels(batch.images, ctx), None

    def objective(self, batch, latents, extra, noise, timesteps, ctx: TrainContext):
        return denoising_loss(ctx.denoiser, ctx.encode, ctx.noise_scheduler, batch.prompt_index, latents, noise,
                              timesteps, ctx.mixed, ctx.backbone)

    def sample_info(self) -> dict[str, Any]:
        return {**super().sample_info(), "strength": self.strength, "denoising_steps": self.denoising_steps}
