"""``paint-by-example``: Paint-by-Example (Yang et al., CVPR 2023), conditioned on one reference
image per sample, drawn from the scene's references by the sample's seed (recorded).

Loading avoids a real trap: the hub repository's ``model_index.json`` names its image encoder
``["paint_by_example", "PaintByExampleImageEncoder"]``, a module path that moved into diffusers'
deprecated namespace, so ``PaintByExamplePipeline.from_pretrained(repo)`` fails on current
diffusers. Each component is loaded from its subfolder and the pipeline constructed directly.
The safety checker is disabled (it would replace flagged samples with black images).
"""
from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from .base import Method, MethodInfo, Output
from .diffusion import (PAINT_BY_EXAMPLE, dilated_mask, from_pipeline, generators, model_weights_name, pick_device,
                        pick_dtype, pipeline_size, resolve_model, to_pil)


def _import(*candidates: str, attr: str):
    import importlib

    for module in candidates:
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"{attr} not found in diffusers ({', '.join(candidates)})")


def pipeline_class():
    return _import("diffusers", "diffusers.pipelines.deprecated.paint_by_example",
                   "diffusers.pipelines.paint_by_example", attr="PaintByExamplePipeline")


def image_encoder_class():
    return _import("diffusers.pipelines.deprecated.paint_by_example",
                   "diffusers.pipelines.paint_by_example", attr="PaintByExampleImageEncoder")


class PaintByExample(Method):
    info = MethodInfo("paint-by-example", stochastic=True, needs_weights=True,
                      description="Paint-by-Example with one reference per sample (drawn by the seed)")
    default_config = {"model": PAINT_BY_EXAMPLE, "steps": 50, "guidance": 5.0, "batch": 4, "dtype": "fp16",
                      "device": "auto", "feather": 1}

    @classmethod
    def required_weights(cls, config) -> list[str]:
        return [model_weights_name(config["model"])]

    def __init__(self, config=None):
        super().__init__(config)
        self.model_path, self.model_id = resolve_model(self.config["model"])
        self._pipe = None

    @property
    def generation_batch(self) -> int:
        return int(self.config["batch"])

    def _pipeline(self):
        if self._pipe is None:
            import diffusers
            from diffusers import AutoencoderKL, UNet2DConditionModel
            from transformers import CLIPImageProcessor

            path = str(self.model_path)
            device = pick_device(self.config["device"])
            dtype = pick_dtype(self.config["dtype"], device)
            scheduler_cfg = json.loads((self.model_path / "scheduler" / "scheduler_config.json").read_text())
            scheduler = getattr(diffusers, scheduler_cfg["_class_name"]).from_pretrained(path, subfolder="scheduler")
            pipe = pipeline_class()(
                vae=AutoencoderKL.from_pretrained(path, subfolder="vae", torch_dtype=dtype),
                image_encoder=image_encoder_class().from_pretrained(path, subfolder="image_encoder", torch_dtype=dtype),
                unet=UNet2DConditionModel.from_pretrained(path, subfolder="unet", torch_dtype=dtype),
                scheduler=scheduler, safety_checker=None,
                feature_extractor=CLIPImageProcessor.from_pretrained(path, subfolder="feature_extractor"),
                requires_safety_checker=False)
            self._pipe = pipe.to(device)
            self._pipe.set_progress_bar_config(leave=False, desc="paint-by-example")
        return self._pipe

    @staticmethod
    def reference_index(seed: int, count: int) -> int:
        return int(np.random.default_rng(seed).integers(count))

    def generate(self, scene, seeds: Sequence[int]) -> list[Output]:
        pipe = self._pipeline()
        size = pipeline_size(*scene.size)
        mask = to_pil(dilated_mask(scene.mask, self.feather).astype(np.uint8) * 255, size)
        target = to_pil(scene.target, size)
        picks = [self.reference_index(int(s), len(scene.refs)) for s in seeds]
        result = pipe(image=[target] * len(seeds), mask_image=[mask] * len(seeds),
                      example_image=[to_pil(scene.refs[i]) for i in picks], height=size[0], width=size[1],
                      num_inference_steps=int(self.config["steps"]), guidance_scale=float(self.config["guidance"]),
                      generator=generators(seeds, pipe.device), output_type="np").images
        info = {"model": self.model_id, "safety_checker": None}
        return [Output(image, {**info, "seed": int(s), "reference_index": i})
                for image, s, i in zip(from_pipeline(result, scene.size), seeds, picks)]
