"""``sd-inpaint``: plain Stable Diffusion 2 inpainting (RealFill's prompt-based baseline), or any
diffusers inpainting model given with ``--model`` (``AutoPipelineForInpainting`` picks its pipeline).

The references are not used: only a text prompt, per scene from ``--prompts FILE.json``
(``{"scene_id": "prompt"}``) or a generic default (recorded as such). 50 steps, guidance 7.5,
generated at 512 px on the shorter side (SD2-inpainting's training resolution) and resized back.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from realbench.core.errors import RealBenchError, describe
from realbench.core.settings import setting

from .backbones import read_model_index
from .base import METHODS, MethodInfo, Output
from .diffusion import (
    SD2_INPAINTING,
    PipelineMethod,
    PipelineSettings,
    dtype_of,
    from_pipeline,
    generators,
    pipeline_inputs,
)

DEFAULT_PROMPT = "a high quality photo"


def load_prompts(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    try:
        prompts = json.loads(Path(path).read_text())
    except OSError as exc:
        raise RealBenchError(f"cannot read prompts file ({exc.strerror})", path=str(path)) from None
    except ValueError as exc:
        raise RealBenchError(f"prompts file is not JSON ({exc})", path=str(path)) from None
    if not isinstance(prompts, dict) or not all(isinstance(v, str) for v in prompts.values()):
        raise RealBenchError('prompts file must map scene ids to strings: {"scene_id": "prompt"}', path=str(path))
    return prompts


@dataclass
class SDInpaintSettings(PipelineSettings):
    model: str = setting(SD2_INPAINTING, help="base model: a hub id or a local diffusers folder")
    prompts: str | None = setting(None, help='JSON file {"scene_id": "prompt"}')
    default_prompt: str = setting(DEFAULT_PROMPT, help="prompt for scenes the prompts file does not name")
    negative_prompt: str = setting("", help="negative prompt")


@METHODS.register("sd-inpaint")
class SDInpaint(PipelineMethod):
    info = MethodInfo("sd-inpaint", stochastic=True, needs_weights=True,
                      description="Stable Diffusion 2 inpainting with a text prompt (no references)")
    Settings = SDInpaintSettings

    def __init__(self, config=None):
        super().__init__(config)
        self.prompts = load_prompts(self.settings.prompts)

    def build_pipeline(self, path: str, dtype):
        from diffusers import AutoPipelineForInpainting

        # no safety checker (its black-image replacement of flagged samples would be scored), for
        # the pipelines that have one; its weights are never downloaded
        index = read_model_index(Path(path))
        no_checker = ({"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
                      if "safety_checker" in index else {})
        try:
            with warnings.catch_warnings():  # newer diffusers rename torch_dtype to dtype; older ones know only it
                warnings.filterwarnings("ignore", message="`torch_dtype` is deprecated", category=FutureWarning)
                return AutoPipelineForInpainting.from_pretrained(path, torch_dtype=dtype, **no_checker)
        except ValueError as exc:  # a model family with no inpainting pipeline
            raise RealBenchError(f"not an inpainting model ({describe(exc)})", path=path) from None

    def generate(self, scene, seeds: Sequence[int]) -> list[Output]:
        pipe = self.pipeline()
        settings = self.settings
        prompt = self.prompts.get(scene.id, settings.default_prompt)
        target, mask, size = pipeline_inputs(scene, self.feather, settings.resolution)
        n = len(seeds)
        result = pipe(prompt=[prompt] * n, negative_prompt=[settings.negative_prompt] * n,
                      image=[target] * n, mask_image=[mask] * n,
                      height=size[0], width=size[1], num_inference_steps=int(settings.steps),
                      guidance_scale=float(settings.guidance), generator=generators(seeds, pipe.device),
                      strength=1.0,  # from pure noise, every step run (SDXL's default, 0.9999, runs one fewer)
                      output_type="np").images
        info = {"prompt": prompt, "prompt_source": "prompts file" if scene.id in self.prompts else "generic default",
                "model": self.model_id, "safety_checker": None, "resolution": [size[1], size[0]], **dtype_of(pipe)}
        return [Output(image, {**info, "seed": int(s)}) for image, s in zip(from_pipeline(result, scene.size), seeds)]
