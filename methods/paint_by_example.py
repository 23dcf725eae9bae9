"""``paint-by-example``: Paint-by-Example (Yang et al., CVPR 2023), conditioned on one reference
image per sample, drawn from the scene's references by the sample's seed (recorded); generated
at 512 px on the shorter side (its training resolution) and resized back to the scene's size.

Loading avoids a real trap: the hub repository's ``model_index.json`` names its image encoder
``["paint_by_example", "PaintByExampleImageEncoder"]``, a module path that moved into diffusers'
deprecated namespace, so ``PaintByExamplePipeline.from_pretrained(repo)`` fails on current
diffusers. Each component is loaded from its subfolder and the pipeline constructed directly.
The safety checker is disabled (it would replace flagged samples with black images).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from realbench.core.settings import Number, setting

from .base import METHODS, MethodInfo, Output
from .diffusion import (
    PAINT_BY_EXAMPLE,
    PipelineMethod,
    PipelineSettings,
    dtype_of,
    from_pipeline,
    generators,
    load_scheduler,
    pipeline_inputs,
    to_pil,
)


def _import(*candidates: str, attr: str):
    import importlib

    for module in candidates:
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"{attr} not found in diffusers ({', '.join(candidates)})")


@dataclass
class PaintByExampleSettings(PipelineSettings):
    model: str = setting(PAINT_BY_EXAMPLE, help="base model: a hub id or a local diffusers folder")
    guidance: Number = setting(5.0, min=0, max=1000, help="classifier-free guidance scale")


def pipeline_class():
    return _import("diffusers", "diffusers.pipelines.deprecated.paint_by_example",
                   "diffusers.pipelines.paint_by_example", attr="PaintByExamplePipeline")


def image_encoder_class():
    return _import("diffusers.pipelines.deprecated.paint_by_example",
                   "diffusers.pipelines.paint_by_example", attr="PaintByExampleImageEncoder")


@METHODS.register("paint-by-example")
class PaintByExample(PipelineMethod):
    info = MethodInfo("paint-by-example", stochastic=True, needs_weights=True,
                      description="Paint-by-Example with one reference per sample (drawn by the seed)")
    Settings = PaintByExampleSettings

    def build_pipeline(self, path: str, dtype):
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import CLIPImageProcessor

        return pipeline_class()(
            vae=AutoencoderKL.from_pretrained(path, subfolder="vae", torch_dtype=dtype),
            image_encoder=image_encoder_class().from_pretrained(path, subfolder="image_encoder", torch_dtype=dtype),
            unet=UNet2DConditionModel.from_pretrained(path, subfolder="unet", torch_dtype=dtype),
            scheduler=load_scheduler(path), safety_checker=None,
            feature_extractor=CLIPImageProcessor.from_pretrained(path, subfolder="feature_extractor"),
            requires_safety_checker=False)

    @staticmethod
    def reference_index(seed: int, count: int) -> int:
        return int(np.random.default_rng(seed).integers(count))

    def generate(self, scene, seeds: Sequence[int]) -> list[Output]:
        pipe = self.pipeline()
        settings = self.settings
        target, mask, size = pipeline_inputs(scene, self.feather, settings.resolution)
        picks = [self.reference_index(int(s), len(scene.refs)) for s in seeds]
        result = pipe(image=[target] * len(seeds), mask_image=[mask] * len(seeds),
                      example_image=[to_pil(scene.refs[i]) for i in picks], height=size[0], width=size[1],
                      num_inference_steps=int(settings.steps), guidance_scale=float(settings.guidance),
                      generator=generators(seeds, pipe.device), output_type="np").images
        info = {"model": self.model_id, "safety_checker": None, "resolution": [size[1], size[0]], **dtype_of(pipe)}
        return [Output(image, {**info, "seed": int(s), "reference_index": i})
                for image, s, i in zip(from_pipeline(result, scene.size), seeds, picks)]
