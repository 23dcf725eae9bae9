"""Shared plumbing of the diffusion adapters: where the model comes from, device and dtype,
per-sample generators, and the conversions between realbench arrays and pipeline inputs."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realbench.core.devices import pick_device
from realbench.core.errors import RealBenchError
from realbench.core.imageops import dilate
from realbench.core.paths import expand_user
from realbench.core.settings import Number, setting
from realbench.weights import SPECS, check_folder, content_hash, diffusers_model, is_hub_id, register_weights, resolve

from .base import Method

SD2_INPAINTING = "stabilityai/stable-diffusion-2-inpainting"
SD2_BASE = "stabilityai/stable-diffusion-2-base"
PAINT_BY_EXAMPLE = "Fantasy-Studio/Paint-by-Example"

register_weights(diffusers_model(SD2_INPAINTING,
                                 "Stable Diffusion 2 inpainting (RealFill's base, SD-inpaint baseline)"))
register_weights(diffusers_model(SD2_BASE, "Stable Diffusion 2 base, 512 px text-to-image (DreamBooth's base; "
                                           "SD2 inpainting was resumed from it)"))
register_weights(diffusers_model(PAINT_BY_EXAMPLE, "Paint-by-Example"))


def model_weights_name(model: str) -> str:
    """Weights name for ``--model``: a hub id (registered on first use) or a local folder."""
    if expand_user(model).exists():
        return str(expand_user(model))
    if model not in SPECS:
        if not is_hub_id(model):
            raise RealBenchError(f"model '{model}' is neither an existing folder nor a hub id (owner/name)")
        register_weights(diffusers_model(model, f"diffusers model {model}"))
    return model


def resolve_model(model: str) -> tuple[Path, str]:
    """(local folder, weights id) for a hub id or a local diffusers folder; never downloads."""
    local = expand_user(model)
    if local.exists():
        if not local.is_dir():
            raise RealBenchError("--model must be a diffusers model folder or a hub id, not a file", path=str(local))
        found, missing = check_folder(diffusers_model(str(local), "local model"), local)
        if missing:
            raise RealBenchError(f"not a complete diffusers model folder: missing {'; '.join(missing)}",
                                 path=str(local))
        return local, f"{local.name}@{content_hash(found)}"
    resolved = resolve(model_weights_name(model))
    return resolved.path, resolved.id


DTYPE_NAMES = {"no": "float32", "float32": "float32", "fp32": "float32", "fp16": "float16", "float16": "float16",
               "bf16": "bfloat16", "bfloat16": "bfloat16"}


def check_dtype(name: str, setting: str) -> None:
    """Refuse an unknown precision when the method is built, not deep inside a GPU run."""
    if str(name) not in DTYPE_NAMES:
        raise RealBenchError(f"{setting}={name!r} is not a precision; use one of {', '.join(DTYPE_NAMES)}")


def pick_dtype(name: str, device) -> Any:
    """fp16/bf16 only where they help (CUDA, MPS); the CPU always computes in float32. Outputs
    record the dtype actually used (``dtype_of``), so a CPU run never claims fp16."""
    import torch

    check_dtype(name, "dtype")
    return torch.float32 if device.type == "cpu" else getattr(torch, DTYPE_NAMES[str(name)])


def dtype_of(pipe) -> dict[str, str]:
    """Where and in what precision a pipeline really ran, for the records."""
    return {"device": str(pipe.device), "dtype": str(pipe.dtype).removeprefix("torch.")}


def generators(seeds: Sequence[int], device) -> list:
    """One generator per sample, so a sample's image depends only on its own seed."""
    import torch

    gen_device = "cpu" if device.type == "mps" else device
    return [torch.Generator(device=gen_device).manual_seed(int(seed)) for seed in seeds]


def working_size(height: int, width: int, short_side: int, multiple: int = 8) -> tuple[int, int]:
    """(h, w) a model generates at: the shorter side scaled to ``short_side`` (the resolution the
    model was trained at), aspect kept, both sides rounded to a multiple of 8 (the VAE's stride)."""
    scale = float(short_side) / min(height, width)
    return (max(multiple, int(round(height * scale / multiple)) * multiple),
            max(multiple, int(round(width * scale / multiple)) * multiple))


def to_pil(array: np.ndarray, size: tuple[int, int] | None = None):
    """uint8 array -> PIL, resized to ``size`` = (h, w): bicubic for images; for masks, a box
    filter and then any coverage counts as missing, so no missing pixel is lost by downscaling."""
    from PIL import Image

    image = Image.fromarray(array)
    if size is not None and (image.height, image.width) != size:
        if array.ndim == 2:
            grey = np.asarray(image.resize((size[1], size[0]), Image.Resampling.BOX))
            image = Image.fromarray(((grey > 0) * 255).astype(np.uint8))
        else:
            image = image.resize((size[1], size[0]), Image.Resampling.BICUBIC)
    return image


def pipeline_inputs(scene, feather: int, short_side: int, multiple: int = 8):
    """The target and the hole (the mask grown by the feather) at the working resolution (sides
    multiples of ``multiple``, the model's stride), and that resolution (h, w); outputs are resized
    back to the scene's size by ``from_pipeline``."""
    height, width = scene.size
    size = working_size(height, width, short_side, multiple)
    mask = dilated_mask(scene.mask, feather).astype(np.uint8) * 255
    return to_pil(scene.target, size), to_pil(mask, size), size


def blank_canvas_inputs(scene, short_side: int, multiple: int = 8):
    """Fig. 11's blank canvas: the target and an all-ones mask (every pixel generated, nothing of
    the target kept) at the working resolution, and that resolution (h, w)."""
    from PIL import Image

    height, width = scene.size
    size = working_size(height, width, short_side, multiple)
    return to_pil(scene.target, size), Image.new("L", (size[1], size[0]), 255), size


def from_pipeline(images: np.ndarray, size: tuple[int, int]) -> list[np.ndarray]:
    """Pipeline float output in [0, 1] -> uint8 arrays at the scene's size (bicubic if resized)."""
    out = []
    for image in images:
        array = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
        if array.shape[:2] != size:
            array = np.asarray(to_pil(array, size))
        out.append(array)
    return out


def dilated_mask(mask: np.ndarray, width: int) -> np.ndarray:
    """The hole the pipeline is asked to fill: the mask grown by the feather width (as RealFill's
    inference grows it with a 3x3 max filter before blurring)."""
    return dilate(mask, width)


def is_out_of_memory(exc: BaseException) -> bool:
    """A CUDA (or MPS) out-of-memory error: torch's own type, or a RuntimeError that says so."""
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def requested_memory(exc: BaseException) -> str | None:
    """What the failed allocation asked for ("2.00 GiB"), when the message says."""
    import re

    found = re.search(r"tried to allocate\s+([\d.]+\s*(?:[KMGTP]i?B|bytes?|B)\b)", str(exc), re.IGNORECASE)
    return found.group(1) if found else None


def peak_memory_bytes(device) -> int | None:
    """Peak accelerator memory allocated by torch since the last reset (None off CUDA)."""
    import torch

    if getattr(device, "type", None) != "cuda" or not torch.cuda.is_available():
        return None
    return int(torch.cuda.max_memory_allocated(device))


def reset_peak_memory(device) -> None:
    import torch

    if getattr(device, "type", None) == "cuda" and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(device)


def load_scheduler(path: str | Path):
    """The scheduler class a diffusers folder declares, loaded from its ``scheduler/`` subfolder."""
    import json

    import diffusers

    config = json.loads((Path(path) / "scheduler" / "scheduler_config.json").read_text())
    return getattr(diffusers, config["_class_name"]).from_pretrained(str(path), subfolder="scheduler")


def resolution_setting(default):
    return setting(default, min=8, max=8192, multiple_of=8,
                   help="working resolution: the shorter side the model generates at (the output is resized back)")


@dataclass
class PipelineSettings:
    """What every diffusion pipeline method takes."""

    model: str = setting("", help="base model: a hub id or a local diffusers folder")
    steps: int = setting(50, min=1, max=100_000, help="denoising steps")
    guidance: Number = setting(7.5, min=0, max=1000, help="classifier-free guidance scale")
    batch: int = setting(4, min=1, max=4096, help="samples generated per pipeline call")
    dtype: str = setting("fp16", help="precision on GPUs (fp16, bf16, fp32); the CPU always computes in float32")
    device: str = setting("auto", help="torch device; 'auto' picks CUDA, then MPS, then the CPU")
    feather: int = setting(1, min=0, max=1024, help="pixels over which the output is blended into the known region")
    resolution: int = resolution_setting(512)


class PipelineMethod(Method):
    """A diffusers pipeline used as is: the model resolved at construction (missing weights fail
    before any work), the pipeline built once on first use, samples generated in batches."""

    @classmethod
    def required_weights(cls, config) -> list[str]:
        return [model_weights_name(config["model"])]

    def __init__(self, config=None):
        super().__init__(config)
        dtype = getattr(self.settings, "dtype", None)  # a fine-tune's precisions are in its groups
        if dtype is not None:
            check_dtype(dtype, "dtype")
        self.model_path, self.model_id = resolve_model(self.settings.model)
        self._pipe = None

    @property
    def generation_batch(self) -> int:
        return int(self.settings.batch)

    def build_pipeline(self, path: str, dtype):
        raise NotImplementedError

    def pipeline(self):
        if self._pipe is None:
            device = pick_device(self.device or self.settings.device)
            self._pipe = self.build_pipeline(str(self.model_path), pick_dtype(self.settings.dtype, device)).to(device)
            self._pipe.set_progress_bar_config(leave=False, desc=self.info.name, disable=not self.progress)
        return self._pipe
