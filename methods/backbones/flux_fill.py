"""FLUX.1 Fill (black-forest-labs/FLUX.1-Fill-dev): a flow-matching transformer for inpainting, as
diffusers' ``FluxFillPipeline`` runs it.

What differs from the latent-diffusion UNets, each mirrored from the pipeline (and, for training,
from diffusers' ``train_dreambooth_lora_flux.py``):

- latents: the VAE sample shifted by its ``shift_factor`` and scaled (``base.Backbone.scale_latents``);
- conditioning: the T5 encoder's last hidden state (``encoder_hidden_states``, prompts padded to 512
  tokens) and CLIP's pooled output (``pooled_projections``); LoRA goes on CLIP, as the FLUX
  DreamBooth script trains it, while T5 stays frozen;
- the denoiser's input: latents packed into tokens of 2 x 2 latent pixels, followed by the packed
  masked-image latents and the mask, whose 8 x 8 pixels under each latent pixel become 64 channels
  before packing (``prepare_mask_latents``); positions as ``img_ids`` / ``txt_ids``; the
  guidance-distilled model's guidance as an input (``guidance``), 30 as the pipeline's default;
  the timestep as sigma (``timestep / 1000``);
- training: flow matching: sigmas drawn uniformly from the training schedule (the script's
  ``weighting_scheme="none"``), ``noisy = (1 - sigma) x + sigma noise``, target ``noise - x``;
- sampling: the flow-matching Euler scheduler with the resolution-dependent shift (``mu``) the
  pipeline computes; there is no classifier-free guidance (``sample.guidance`` must stay 1).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from realbench.core.errors import RealBenchError

from .base import BACKBONES, TASKS, Backbone, config_value

GUIDANCE_EMBEDDING = 30.0  # FluxFillPipeline's default guidance_scale: the distilled guidance FLUX.1 Fill runs at
MAX_SEQUENCE_LENGTH = 512  # the pipeline's default T5 prompt length
TIMESTEP_SCALE = 1000.0  # the pipeline passes timestep / 1000 (sigma) to the transformer


def pack_latents(latents: Any) -> Any:
    """N x C x h x w -> N x (h/2 * w/2) x 4C: tokens of 2 x 2 latent pixels (``FluxPipeline._pack_latents``)."""
    n, c, h, w = latents.shape
    return latents.view(n, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(n, (h // 2) * (w // 2), c * 4)


def unpack_latents(tokens: Any, height: int, width: int) -> Any:
    """The inverse of ``pack_latents`` for latents of ``height`` x ``width`` (``_unpack_latents``)."""
    n, _, channels = tokens.shape
    return tokens.view(n, height // 2, width // 2, channels // 4, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(
        n, channels // 4, height, width)


def latent_image_ids(height: int, width: int, device: Any, dtype: Any) -> Any:
    """(row, column) positions of the packed tokens, ``_prepare_latent_image_ids``'s layout."""
    import torch

    ids = torch.zeros(height, width, 3)
    ids[..., 1] = ids[..., 1] + torch.arange(height)[:, None]
    ids[..., 2] = ids[..., 2] + torch.arange(width)[None, :]
    return ids.reshape(height * width, 3).to(device=device, dtype=dtype)


@BACKBONES.register("flux-fill")
class FluxFill(Backbone):
    name = "flux-fill"
    pipeline_classes = ("FluxFillPipeline",)
    text_encoders = ("text_encoder",)  # CLIP gets LoRA; T5 (text_encoder_2) stays frozen
    tokenizers = ("tokenizer", "tokenizer_2")
    tokenizer_classes = ("CLIPTokenizer", "T5TokenizerFast")
    denoiser = "transformer"
    noise_scheduler_class = "FlowMatchEulerDiscreteScheduler"
    prediction_types = ("flow",)
    pixel_multiple = 16  # the VAE's stride (8) times the 2 x 2 packing
    samplers = ("flow-euler",)
    default_sampler = "flow-euler"
    guidance_embedding = GUIDANCE_EMBEDDING

    # ------------------------------------------------------------------ checks
    @classmethod
    def check_model(cls, path: Path, task: str) -> None:
        """The transformer must take packed latents, masked-image latents and mask (FLUX.1 Fill:
        64 + 64 + 256 = 384 channels for a 16-channel VAE of stride 8)."""
        channels, stride = config_value(path, "vae", "latent_channels"), config_value(path, "vae", "block_out_channels")
        taken = config_value(path, "transformer", "in_channels")
        if not isinstance(channels, int) or not isinstance(stride, list) or not isinstance(taken, int):
            return
        factor = 2 ** (len(stride) - 1)
        expected = 8 * channels + 4 * factor * factor
        if taken != expected:
            raise RealBenchError(f"{TASKS[task]} needs a FLUX Fill transformer that takes packed latents, masked-image "
                                 f"latents and mask ({expected} input channels); this one takes {taken}",
                                 path=str(path) + "/transformer/config.json")

    @classmethod
    def check_guidance(cls, guidance: float) -> None:
        if guidance != 1:
            raise RealBenchError(f"sample.guidance={guidance:g}: FLUX Fill has no classifier-free guidance (its "
                                 f"pipeline feeds the distilled guidance, {cls.guidance_embedding:g}, to the "
                                 "transformer); leave sample.guidance at 1")

    # ------------------------------------------------------------------ parts
    def load_frozen(self) -> dict[str, Any]:
        from transformers import T5EncoderModel

        frozen = super().load_frozen()
        self.t5 = T5EncoderModel.from_pretrained(str(self.path), subfolder="text_encoder_2").to(
            self.device).eval().requires_grad_(False)
        return {**frozen, "text_encoder_2": self.t5}

    def load_trainable(self) -> dict[str, Any]:
        from diffusers import FluxTransformer2DModel
        from transformers import CLIPTextModel

        path = str(self.path)
        return {"transformer": FluxTransformer2DModel.from_pretrained(path, subfolder="transformer").to(self.device),
                "text_encoder": CLIPTextModel.from_pretrained(path, subfolder="text_encoder").to(self.device)}

    # ------------------------------------------------------------------ prompts
    def tokenize(self, tokenizers: list, prompts: list[str]) -> list:
        """CLIP ids padded to its 77 tokens, T5 ids padded to 512, as ``encode_prompt`` pads them."""
        clip, t5 = tokenizers
        return [tok(prompts, padding="max_length", truncation=True, max_length=length,
                    return_tensors="pt").input_ids.to(self.device)
                for tok, length in ((clip, clip.model_max_length), (t5, MAX_SEQUENCE_LENGTH))]

    def encode(self, text_encoders, ids, rows, size):
        import torch

        pooled = text_encoders["text_encoder"](ids[0][rows], output_hidden_states=False).pooler_output
        with torch.no_grad():
            hidden = self.t5(ids[1][rows], output_hidden_states=False)[0]
        return hidden, {"pooled_projections": pooled}

    # ------------------------------------------------------------------ the training objective
    @classmethod
    def draw_noise(cls, scheduler, latents, generator):
        """Gaussian noise, then a uniform draw of the training schedule's timesteps (the FLUX
        script's ``weighting_scheme="none"``)."""
        import torch
        from diffusers.training_utils import compute_density_for_timestep_sampling

        noise = torch.randn(latents.shape, generator=generator, device=latents.device)
        u = compute_density_for_timestep_sampling("none", latents.shape[0], device=latents.device, generator=generator)
        indices = (u * scheduler.config.num_train_timesteps).long()
        return noise, scheduler.timesteps[indices.cpu()].to(latents.device)

    @classmethod
    def sigmas(cls, scheduler: Any, timesteps: Any, like: Any) -> Any:
        """Each timestep's sigma on the training schedule (the script's ``get_sigmas``), shaped to broadcast."""
        schedule = scheduler.timesteps
        indices = [int((schedule == t).nonzero().item()) for t in timesteps.cpu()]
        return scheduler.sigmas[indices].to(device=like.device, dtype=like.dtype).view(-1, *[1] * (like.ndim - 1))

    @classmethod
    def add_noise(cls, scheduler, latents, noise, timesteps):
        sigmas = cls.sigmas(scheduler, timesteps, latents)
        return (1.0 - sigmas) * latents + sigmas * noise

    @classmethod
    def target(cls, scheduler, latents, noise, timesteps):
        return noise - latents  # the flow's velocity

    @classmethod
    def mask_latents(cls, masks, latents):
        """Pixel masks N x 1 x H x W -> N x 64 x h x w: the 8 x 8 pixels under each latent pixel as
        channels, as ``prepare_mask_latents`` folds them (packed with the latents in ``predict``)."""
        n, (h, w) = masks.shape[0], latents.shape[2:]
        factor = masks.shape[2] // h
        folded = masks.to(latents.device)[:, 0].reshape(n, h, factor, w, factor).permute(0, 2, 4, 1, 3)
        return folded.reshape(n, factor * factor, h, w)

    @classmethod
    def denoiser_inputs(cls, config: Any, noisy: Any, masks: Any, conditioning: Any, timesteps: Any, hidden: Any,
                        extra: dict[str, Any]) -> dict[str, Any]:
        """The transformer's keyword arguments, built as ``FluxFillPipeline.__call__`` builds them."""
        import torch

        n, _, h, w = noisy.shape
        tokens = [pack_latents(noisy)] + ([] if masks is None else [pack_latents(conditioning), pack_latents(masks)])
        guidance = (torch.full([1], cls.guidance_embedding, device=noisy.device, dtype=torch.float32).expand(n)
                    if config.guidance_embeds else None)
        return {"hidden_states": torch.cat(tokens, dim=2), "timestep": timesteps / TIMESTEP_SCALE,
                "guidance": guidance, "pooled_projections": extra["pooled_projections"],
                "encoder_hidden_states": hidden,
                "txt_ids": torch.zeros(hidden.shape[1], 3, device=hidden.device, dtype=hidden.dtype),
                "img_ids": latent_image_ids(h // 2, w // 2, hidden.device, hidden.dtype)}

    @classmethod
    def predict(cls, denoiser, noisy, masks, conditioning, timesteps, hidden, extra):
        inputs = cls.denoiser_inputs(denoiser.config, noisy, masks, conditioning, timesteps, hidden, extra or {})
        return unpack_latents(denoiser(**inputs, return_dict=False)[0], *noisy.shape[2:])

    # ------------------------------------------------------------------ sampling
    def pipeline(self, frozen, models, scheduler):
        from diffusers import FluxFillPipeline

        clip, t5 = frozen["tokenizers"]
        return FluxFillPipeline(scheduler=scheduler, vae=frozen["vae"], text_encoder=models["text_encoder"],
                                tokenizer=clip, text_encoder_2=frozen["text_encoder_2"], tokenizer_2=t5,
                                transformer=models["transformer"])

    def pipeline_kwargs(self, guidance: float) -> dict[str, Any]:
        return {"guidance_scale": self.guidance_embedding, "max_sequence_length": MAX_SEQUENCE_LENGTH}

    def info(self) -> dict[str, Any]:
        return {"guidance_embedding": self.guidance_embedding}
