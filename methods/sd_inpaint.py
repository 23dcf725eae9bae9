"""``sd-inpaint``: plain Stable Diffusion 2 inpainting (RealFill's prompt-based baseline).

The references are not used: only a text prompt, per scene from ``--prompts FILE.json``
(``{"scene_id": "prompt"}``) or a generic default (recorded as such). 50 steps, guidance 7.5,
generated at 512 px on the shorter side (SD2-inpainting's training resolution) and resized back.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from realbench.errors import RealBenchError

from dataclasses import dataclass
from typing import Optional

from realbench.settings import setting

from .base import MethodInfo, Output
from .diffusion import (SD2_INPAINTING, PipelineMethod, PipelineSettings, dtype_of, from_pipeline, generators,
                        load_scheduler, pipeline_inputs)

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
    prompts: Optional[str] = setting(None, help='JSON file {"scene_id": "prompt"}')
    default_prompt: str = setting(DEFAULT_PROMPT, help="prompt for scenes the prompts file does not name")
    negative_prompt: str = setting("", help="negative prompt")


class SDInpaint(PipelineMethod):
    info = MethodInfo("sd-inpaint", stochastic=True, needs_weights=True,
                      description="Stable Diffusion 2 inpainting with a text prompt (no references)")
    Settings = SDInpaintSettings

    def __init__(self, config=None):
        super().__init__(config)
        self.prompts = load_prompts(self.config["prompts"])

    def build_pipeline(self, path: str, dtype):
        from diffusers import AutoencoderKL, StableDiffusionInpaintPipeline, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        return StableDiffusionInpaintPipeline(
            vae=AutoencoderKL.from_pretrained(path, subfolder="vae", torch_dtype=dtype),
            text_encoder=CLIPTextModel.from_pretrained(path, subfolder="text_encoder", torch_dtype=dtype),
            tokenizer=CLIPTokenizer.from_pretrained(path, subfolder="tokenizer"),
            unet=UNet2DConditionModel.from_pretrained(path, subfolder="unet", torch_dtype=dtype),
            scheduler=load_scheduler(path), safety_checker=None, feature_extractor=None,
            requires_safety_checker=False)  # no black-image replacement of flagged samples

    def generate(self, scene, seeds: Sequence[int]) -> list[Output]:
        pipe = self.pipeline()
        prompt = self.prompts.get(scene.id, self.config["default_prompt"])
        target, mask, size = pipeline_inputs(scene, self.feather, self.config["resolution"])
        n = len(seeds)
        result = pipe(prompt=[prompt] * n, negative_prompt=[self.config["negative_prompt"]] * n,
                      image=[target] * n, mask_image=[mask] * n,
                      height=size[0], width=size[1], num_inference_steps=int(self.config["steps"]),
                      guidance_scale=float(self.config["guidance"]), generator=generators(seeds, pipe.device),
                      output_type="np").images
        info = {"prompt": prompt, "prompt_source": "prompts file" if scene.id in self.prompts else "generic default",
                "model": self.model_id, "safety_checker": None, "resolution": [size[1], size[0]], **dtype_of(pipe)}
        return [Output(image, {**info, "seed": int(s)}) for image, s in zip(from_pipeline(result, scene.size), seeds)]
