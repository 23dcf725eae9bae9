"""The base-model seam of RealFill and DreamBooth: everything fine-tuning and sampling need from a
base model, so the methods themselves hold no model-family code.

The methods own the recipe (the scene's batches and masks, LoRA on the denoiser and the text
encoders, the optimiser, the loss weighting, checkpoints, records). A backbone owns what differs
between model families, one file each, registered by the pipeline class a model's
``model_index.json`` names, so ``--model`` alone picks it:

- its parts: the VAE, the training noise schedule, the tokenizers, the denoiser and text encoders
  LoRA adapts (``load_frozen``, ``load_trainable``, ``lora_targets``), and the checks a model folder
  must pass (``check_model``);
- prompts to the denoiser's conditioning (``tokenize``, ``encode``);
- latent encoding: VAE samples scaled and shifted (``encode_latents``);
- the training target and noising (``draw_noise``, ``add_noise``, ``target``): noise or v
  prediction on a DDPM schedule, or flow-matching velocity on a schedule of sigmas;
- the denoiser's input: how noisy latents, mask and masked-image latents are combined and, for
  transformers, packed into tokens (``mask_latents``, ``predict``);
- sampling: its schedulers, the diffusers pipeline and the call's extra arguments
  (``sampler``, ``sampling_scheduler``, ``pipeline``, ``pipeline_kwargs``).

The defaults here are those of latent-diffusion UNets (SD 1/2, SDXL): a 9-channel UNet input
(noisy latents, the mask at latent size, masked-image latents; 4 channels for text-to-image
models), DDPM noising, epsilon or v prediction. ``flux_fill.py`` overrides them for a
flow-matching transformer. The training hooks are classmethods: they depend on the family only,
not on a loaded model, so the loss can be replayed on given tensors (``realfill_data.step_loss``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from realbench.core.errors import RealBenchError
from realbench.core.registry import Registry

BACKBONES = Registry("base model", package="realbench.methods.backbones")


TASKS = {"inpainting": "realfill", "text-to-image": "dreambooth"}  # the kind of base model each method fine-tunes
ARTICLE = {"inpainting": "an", "text-to-image": "a"}
# every sampler a family may offer (``sample.scheduler`` names -> diffusers scheduler classes); a
# family lists the ones its models take in ``samplers``
SAMPLERS = {"ddpm": "DDPMScheduler", "ddim": "DDIMScheduler", "dpmsolver": "DPMSolverMultistepScheduler",
            "flow-euler": "FlowMatchEulerDiscreteScheduler"}
DEFAULT_SAMPLER = "ddpm"  # RealFill's (the paper samples with DDPM)


class Backbone:
    """One family of base models (SD 1/2, SDXL, FLUX Fill, ...): its inpainting models, which
    RealFill fine-tunes, and its text-to-image models, which DreamBooth fine-tunes. Both kinds share
    the parts, the prompt conditioning and the sampling pipeline (diffusers' inpainting pipeline
    takes a 4-channel text-to-image UNet too); only the denoiser's input differs."""

    name: ClassVar[str]
    pipeline_classes: ClassVar[tuple[str, ...]]  # the model_index.json ``_class_name`` of its inpainting models
    text_to_image_classes: ClassVar[tuple[str, ...]] = ()  # ... and of its text-to-image models
    text_encoders: ClassVar[tuple[str, ...]]  # subfolders of the text encoders that get LoRA adapters
    tokenizers: ClassVar[tuple[str, ...]]  # the tokenizers ``tokenize`` uses, in order
    tokenizer_classes: ClassVar[tuple[str, ...]] = ()  # their transformers classes (default: CLIPTokenizer)
    denoiser: ClassVar[str] = "unet"  # subfolder of the denoiser LoRA adapts (its key in the models and the LoRA)
    vae_class: ClassVar[str] = "AutoencoderKL"  # diffusers class of the VAE
    noise_scheduler_class: ClassVar[str] = "DDPMScheduler"  # the training noise schedule, from scheduler/
    prediction_types: ClassVar[tuple[str, ...]] = ("epsilon", "v_prediction")  # the targets it can train
    pixel_multiple: ClassVar[int] = 8  # image sides it takes are multiples of this (the VAE's stride)
    samplers: ClassVar[tuple[str, ...]] = ("ddpm", "ddim", "dpmsolver")  # the SAMPLERS its models take
    default_sampler: ClassVar[str] = DEFAULT_SAMPLER

    def __init__(self, path: Path, device: Any):
        self.path, self.device = Path(path), device
        self.index = read_model_index(self.path)

    # ------------------------------------------------------------------ checks (no model loaded)
    @classmethod
    def check_model(cls, path: Path, task: str) -> None:
        """Refuse a model whose denoiser does not take the inputs ``task`` feeds it."""
        check_unet(path, task)

    @classmethod
    def sampler(cls, name: str) -> str:
        """The sampler ``sample.scheduler=name`` means for this family. A family whose models are
        not DDPM-trained takes the setting's default (``ddpm``) as its own sampler, which the
        records name; any other choice it does not have is one error."""
        if name in cls.samplers:
            return name
        if name == DEFAULT_SAMPLER:
            return cls.default_sampler
        raise RealBenchError(f"sample.scheduler={name} is not a sampler of {cls.name} models; use one of "
                             f"{', '.join(cls.samplers)}")

    @classmethod
    def check_guidance(cls, guidance: float) -> None:
        """Refuse a ``sample.guidance`` the family's pipeline cannot apply (any is fine here)."""

    # ------------------------------------------------------------------ parts
    def load_frozen(self) -> dict[str, Any]:
        """The parts no scene changes: VAE (float32, frozen), tokenizers, the training noise schedule."""
        import diffusers

        vae = getattr(diffusers, self.vae_class).from_pretrained(
            str(self.path), subfolder="vae").to(self.device).eval().requires_grad_(False)
        return {"vae": vae, "tokenizers": self.load_tokenizers(), "noise_scheduler": self.load_noise_scheduler()}

    def load_noise_scheduler(self) -> Any:
        import diffusers

        scheduler = getattr(diffusers, self.noise_scheduler_class).from_pretrained(str(self.path),
                                                                                    subfolder="scheduler")
        prediction = scheduler.config.get("prediction_type", self.prediction_types[0])
        if prediction not in self.prediction_types:
            trains = " or ".join(self.prediction_types)
            raise RealBenchError(f"the fine-tuning loss (RealFill, DreamBooth) trains {trains} prediction, but this "
                                 f"model predicts '{prediction}'", path=str(self.path))
        return scheduler

    def load_tokenizers(self) -> list[Any]:
        import transformers

        classes = self.tokenizer_classes or ("CLIPTokenizer",) * len(self.tokenizers)
        return [getattr(transformers, cls).from_pretrained(str(self.path), subfolder=sub)
                for cls, sub in zip(classes, self.tokenizers)]

    def load_trainable(self) -> dict[str, Any]:
        """Fresh copies of the models LoRA adapts: the denoiser and each text encoder, by subfolder."""
        raise NotImplementedError

    def lora_targets(self, unet_targets: list[str], text_targets: list[str]) -> dict[str, list[str]]:
        """Which modules of each trainable model get LoRA adapters."""
        return {self.denoiser: list(unet_targets), **{name: list(text_targets) for name in self.text_encoders}}

    # ------------------------------------------------------------------ prompts
    def tokenize(self, tokenizers: list, prompts: list[str]) -> list:
        """Token ids of ``prompts`` for each tokenizer (padded to its full length, as training does)."""
        return [tok(prompts, padding="max_length", truncation=True, max_length=tok.model_max_length,
                    return_tensors="pt").input_ids.to(self.device) for tok in tokenizers]

    def encode(self, text_encoders: dict[str, Any], ids: list, rows: list[int],
               size: tuple[int, int]) -> tuple[Any, dict[str, Any] | None]:
        """The denoiser's conditioning for prompts ``rows`` of ``ids`` at image ``size`` (h, w):
        encoder hidden states, and the extra conditioning the denoiser takes (one row per prompt),
        if any."""
        raise NotImplementedError

    # ------------------------------------------------------------------ latents
    @classmethod
    def encode_latents(cls, vae: Any, pixels: Any, generator: Any) -> Any:
        """VAE latents of ``pixels`` in [-1, 1], as the denoiser sees them: a sample of the
        posterior, shifted by the VAE's ``shift_factor`` (if it has one) and scaled."""
        return cls.scale_latents(vae, vae.encode(pixels).latent_dist.sample(generator=generator).float())

    @staticmethod
    def scale_latents(vae: Any, sample: Any) -> Any:
        shift = vae.config.get("shift_factor")
        scale = vae.config.scaling_factor
        return sample * scale if shift is None else (sample - shift) * scale

    # ------------------------------------------------------------------ the training objective
    @classmethod
    def draw_noise(cls, scheduler: Any, latents: Any, generator: Any) -> tuple[Any, Any]:
        """(noise, timesteps) for ``latents``, drawn from ``generator`` in that order: Gaussian
        noise and uniform integer timesteps of the DDPM schedule."""
        import torch

        noise = torch.randn(latents.shape, generator=generator, device=latents.device)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],),
                                  generator=generator, device=latents.device)
        return noise, timesteps

    @classmethod
    def add_noise(cls, scheduler: Any, latents: Any, noise: Any, timesteps: Any) -> Any:
        return scheduler.add_noise(latents, noise, timesteps)

    @classmethod
    def target(cls, scheduler: Any, latents: Any, noise: Any, timesteps: Any) -> Any:
        """What the denoiser is trained to predict: the noise, or v for a v-prediction model."""
        if scheduler.config.get("prediction_type", "epsilon") == "v_prediction":
            return scheduler.get_velocity(latents, noise, timesteps)
        return noise

    @classmethod
    def mask_latents(cls, masks: Any, latents: Any) -> Any:
        """The training masks (N x 1 x H x W, pixels, 1 = masked) in the form the denoiser takes:
        nearest-neighbour at the latents' size."""
        import torch.nn.functional as F

        return F.interpolate(masks.to(latents.device), size=latents.shape[2:])

    @classmethod
    def predict(cls, denoiser: Any, noisy: Any, masks: Any, conditioning: Any, timesteps: Any, hidden: Any,
                extra: dict[str, Any] | None) -> Any:
        """The denoiser's prediction, in the latents' layout. ``masks`` (from ``mask_latents``) and
        ``conditioning`` (masked-image latents) are None for a text-to-image model."""
        import torch

        sample = noisy if masks is None else torch.cat([noisy, masks, conditioning], dim=1)
        kwargs = {"added_cond_kwargs": extra} if extra else {}
        return denoiser(sample, timesteps, hidden, **kwargs).sample

    # ------------------------------------------------------------------ sampling
    def sampling_scheduler(self, sampler: str, noise_scheduler: Any) -> Any:
        """A fresh scheduler for sampling, of the class ``sampler`` names, on the training schedule."""
        import diffusers

        return getattr(diffusers, SAMPLERS[sampler]).from_config(noise_scheduler.config)

    def pipeline(self, frozen: dict[str, Any], models: dict[str, Any], scheduler: Any) -> Any:
        """The diffusers inpainting pipeline for sampling, from the fitted (merged) models."""
        raise NotImplementedError

    def pipeline_kwargs(self, guidance: float) -> dict[str, Any]:
        """What the pipeline call takes besides prompt, images, size, steps, strength and generators:
        ``sample.guidance`` as classifier-free guidance."""
        return {"guidance_scale": guidance}

    def info(self) -> dict[str, Any]:
        """What a sample's record and the fitted LoRA's train.json say about the family's own choices."""
        return {}


def read_model_index(path: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(path) / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise RealBenchError("not a diffusers model folder (no readable model_index.json)", path=str(path)) from None


def backbone_class(path: Path, task: str = "inpainting") -> type[Backbone]:
    """The backbone of the model at ``path`` for ``task`` (``inpainting`` for RealFill,
    ``text-to-image`` for DreamBooth), from the pipeline class its model_index.json names.
    Cheap (one small file), so a method refuses a wrong model when it is built."""
    pipeline_class = read_model_index(path).get("_class_name")
    known: dict[str, dict[str, type[Backbone]]] = {kind: {} for kind in TASKS}
    for name in BACKBONES.names():
        cls = BACKBONES.get(name)
        for handled in cls.pipeline_classes:
            known["inpainting"][handled] = cls
        for handled in cls.text_to_image_classes:
            known["text-to-image"][handled] = cls
    if pipeline_class in known[task]:
        return known[task][pipeline_class]
    method = TASKS[task]
    for other, other_method in TASKS.items():
        if other != task and pipeline_class in known[other]:
            raise RealBenchError(f"'{pipeline_class}' is {ARTICLE[other]} {other} model, but {method} fine-tunes "
                                 f"{ARTICLE[task]} {task} model (known: "
                                 f"{', '.join(sorted(known[task]))}); --method {other_method} takes this one",
                                 path=str(path))
    label = "RealFill" if task == "inpainting" else "DreamBooth"
    raise RealBenchError(f"{label} has no backbone for '{pipeline_class}' models (known: "
                         f"{', '.join(sorted(known[task]))}); add one in realbench/methods/backbones/", path=str(path))


def config_value(path: Path, part: str, key: str) -> Any:
    """``key`` of ``part/config.json`` (None if it does not say); one error if it is unreadable."""
    try:
        value = json.loads((Path(path) / part / "config.json").read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError, AttributeError):
        raise RealBenchError(f"not a diffusers model folder (no readable {part}/config.json)", path=str(path)) from None
    return value


def unet_in_channels(path: Path) -> int | None:
    """The UNet's input channels from ``unet/config.json`` (9 for inpainting models: latents,
    mask and masked-image latents; 4 for text-to-image ones), None if it does not say."""
    value = config_value(path, "unet", "in_channels")
    return value if isinstance(value, int) else None


def check_unet(path: Path, task: str) -> None:
    """Refuse a model whose UNet does not take the inputs ``task`` feeds it."""
    expected = 9 if task == "inpainting" else 4
    channels = unet_in_channels(path)
    if channels is not None and channels != expected:
        raise RealBenchError(f"{TASKS[task]} needs a {task} model whose UNet takes {expected} input channels; this "
                             f"one takes {channels}", path=str(path) + "/unet/config.json")


def backbone_for(path: Path, device: Any, task: str = "inpainting") -> Backbone:
    """The backbone of the model at ``path``, from the pipeline class its model_index.json names."""
    return backbone_class(path, task)(path, device)
