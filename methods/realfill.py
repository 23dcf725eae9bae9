"""``realfill``: RealFill (Tang et al., SIGGRAPH 2024) on diffusers + peft, defaults = the paper.

prepare(scene): fine-tune LoRA adapters (rank 8) of the inpainting model's UNet attention
projections and text encoder q/k/v on the scene's references and target (see
``realfill_data.py`` for masking and loss), saving them per scene under the run folder (peft
format, safetensors) keyed by the training-config hash and the scene checksum, with periodic
resumable checkpoints. The base model is Stable Diffusion 2 inpainting, as in the paper; what
differs between base models (their parts, prompt conditioning, pipeline) is a backbone
(``backbones/``), picked from the model's ``model_index.json``: SDXL inpainting works too.
generate(scene, seeds): DDPM sampling, 200 steps, guidance 1, the
target and its (dilated) mask as conditioning at the working resolution (the training resolution,
512, on the shorter side: a 1024 px scene is generated at 512 and resized back), one generator per
seed; the runner then
alpha-composites each output over the target with a 1-pixel feather, as RealFill's inference does.
"""
from __future__ import annotations

import copy
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realbench.errors import RealBenchError
from realbench.provenance import config_hash
from realbench.settings import Number, nested, setting

from .backbones import backbone_for
from .base import METHODS, MethodInfo, Output
from .diffusion import (
    SD2_INPAINTING,
    PipelineMethod,
    check_dtype,
    dtype_of,
    from_pipeline,
    generators,
    pick_device,
    pick_dtype,
    pipeline_inputs,
)
from .realfill_data import RealFillBatches, step_loss
from .training_state import load_state, save_state

log = logging.getLogger(__name__)

SCHEDULERS = {"ddpm": "DDPMScheduler", "ddim": "DDIMScheduler", "dpmsolver": "DPMSolverMultistepScheduler"}


@dataclass
class TrainSettings:
    steps: int = setting(2000, min=1, help="fine-tuning steps")
    batch_size: int = setting(16, min=1, help="examples per step (the scene's images cycled)")
    resolution: int = setting(512, min=8, multiple_of=8, help="training crop size (pixels)")
    unet_lr: float = setting(2e-4, above=0, help="learning rate of the UNet's LoRA")
    text_encoder_lr: float = setting(4e-5, min=0, help="learning rate of the text encoder's LoRA")
    warmup_steps: int = setting(100, min=0, help="linear warm-up steps")
    lora_rank: int = setting(8, min=1, help="LoRA rank")
    lora_alpha: Number = setting(16, above=0, help="LoRA alpha")
    lora_dropout: float = setting(0.1, min=0, below=1, help="LoRA dropout")
    unet_targets: list[str] = setting(["to_q", "to_k", "to_v"], help="UNet modules given LoRA adapters")
    text_targets: list[str] = setting(["q_proj", "k_proj", "v_proj"], help="text encoder modules given LoRA adapters")
    adam_betas: list[float] = setting([0.9, 0.999], help="AdamW betas")
    weight_decay: float = setting(1e-2, min=0, help="AdamW weight decay")
    adam_eps: float = setting(1e-8, above=0, help="AdamW epsilon")
    max_grad_norm: float = setting(1.0, above=0, help="gradient clipping norm")
    prompt_dropout: float = setting(0.1, min=0, max=1, help="probability of training on the empty prompt")
    full_mask_prob: float = setting(0.1, min=0, max=1, help="probability of masking the whole image")
    complement_prob: float = setting(0.5, min=0, max=1, help="probability of flipping a random mask")
    max_rectangles: int = setting(30, min=2, help="rectangles per random mask (1 to this minus one)")
    checkpoint_every: int = setting(250, min=1, help="steps between resumable checkpoints")
    seed: int = setting(0, help="seed of the training draws and the LoRA initialisation")
    mixed_precision: str = setting("no", help="no, fp16 or bf16 (GPUs only)")
    gradient_checkpointing: bool = setting(False, help="trade compute for GPU memory")


@dataclass
class SampleSettings:
    steps: int = setting(200, min=1, help="denoising steps")
    guidance: float = setting(1.0, min=0, help="classifier-free guidance scale")
    batch: int = setting(4, min=1, help="samples per pipeline call")
    scheduler: str = setting("ddpm", choices=tuple(SCHEDULERS), help="sampler")
    dtype: str = setting("fp16", help="precision on GPUs (fp16, bf16, fp32); the CPU computes in float32")
    # None: the training resolution (the LoRA learned 512 px crops), on the shorter side
    resolution: int | None = setting(None, min=8, multiple_of=8,
                                        help="working resolution (shorter side); default: train.resolution")


@dataclass
class RealFillSettings:
    model: str = setting(SD2_INPAINTING, help="base model: a hub id or a local diffusers folder")
    prompt: str = setting("a photo of sks", help="the scene's prompt")
    feather: int = setting(1, min=0, help="pixels over which the output is blended into the known region")
    device: str = setting("auto", help="torch device; 'auto' picks CUDA, then MPS, then the CPU")
    train: TrainSettings = nested(TrainSettings)
    sample: SampleSettings = nested(SampleSettings)


@METHODS.register("realfill")
class RealFill(PipelineMethod):
    info = MethodInfo("realfill", stochastic=True, needs_weights=True,
                      description="RealFill: LoRA fine-tune of an inpainting model (SD2 by default) per scene, "
                                  "then DDPM sampling")
    Settings = RealFillSettings

    def __init__(self, config=None):
        super().__init__(config)  # merges settings and resolves the base model: missing weights fail here
        check_dtype(self.config["train"]["mixed_precision"], "train.mixed_precision")
        check_dtype(self.config["sample"]["dtype"], "sample.dtype")
        self._base: dict[str, Any] | None = None

    @property
    def generation_batch(self) -> int:
        return int(self.config["sample"]["batch"])

    # ------------------------------------------------------------------ loading
    def _load_base(self) -> dict[str, Any]:
        """Frozen parts shared by all scenes (VAE, tokenizers, noise schedule) and the backbone."""
        if self._base is None:
            device = pick_device(self.device or self.config["device"])
            backbone = backbone_for(self.model_path, device)
            self._base = {"device": device, "backbone": backbone, **backbone.load_frozen()}
        return self._base

    def _fresh_models(self) -> dict[str, Any]:
        """The models LoRA adapts, freshly loaded: ``unet`` and the text encoder(s)."""
        return self._load_base()["backbone"].load_trainable()

    def _wrap_lora(self, models: dict[str, Any]) -> dict[str, Any]:
        import torch
        from peft import LoraConfig, get_peft_model

        cfg = self.config["train"]
        torch.manual_seed(int(cfg["seed"]))  # LoRA initialisation
        common = dict(r=int(cfg["lora_rank"]), lora_alpha=int(cfg["lora_alpha"]),
                      lora_dropout=float(cfg["lora_dropout"]), bias="none")
        targets = self._load_base()["backbone"].lora_targets(cfg["unet_targets"], cfg["text_targets"])
        return {name: get_peft_model(model, LoraConfig(target_modules=targets[name], **common))
                for name, model in models.items()}

    def lora_key(self, scene) -> str:
        return config_hash({"model": self.model_id, "prompt": self.config["prompt"], "train": self.config["train"],
                            "scene": scene.checksum})

    # ------------------------------------------------------------------ prepare = fit
    def prepare(self, scene, workdir: Path) -> None:
        self.release()
        workdir = Path(workdir)
        key = self.lora_key(scene)
        lora_dir = workdir / f"lora-{key}"
        models = self._wrap_lora(self._fresh_models())
        if (lora_dir / "train.json").is_file():
            self._load_adapters(lora_dir, models)
        else:
            self.train(scene, models, lora_dir, workdir / f"checkpoint-{key}")
        self._lora_id = f"lora-{key}"
        self._pipe = self._pipeline(models)

    def train(self, scene, models: dict[str, Any], lora_dir: Path, ckpt_dir: Path) -> list[float]:
        """The RealFill fine-tune; resumes from ``ckpt_dir`` if a checkpoint is there."""
        import torch
        from diffusers.optimization import get_scheduler
        from tqdm.auto import tqdm

        cfg, base = self.config["train"], self._load_base()
        device, vae, noise_scheduler, backbone = base["device"], base["vae"], base["noise_scheduler"], base["backbone"]
        unet = models["unet"]
        text_encoders = {name: model for name, model in models.items() if name != "unet"}
        mixed = pick_dtype(cfg["mixed_precision"], device)
        if cfg["gradient_checkpointing"]:
            unet.base_model.model.enable_gradient_checkpointing()
            for model in text_encoders.values():
                model.base_model.model.gradient_checkpointing_enable()
        params = {"unet": [p for p in unet.parameters() if p.requires_grad],
                  "text": [p for m in text_encoders.values() for p in m.parameters() if p.requires_grad]}
        optimizer = torch.optim.AdamW(
            [{"params": params["unet"], "lr": float(cfg["unet_lr"])},
             {"params": params["text"], "lr": float(cfg["text_encoder_lr"])}],
            betas=tuple(cfg["adam_betas"]), weight_decay=float(cfg["weight_decay"]), eps=float(cfg["adam_eps"]))
        lr_schedule = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=int(cfg["warmup_steps"]))
        scaler = torch.amp.GradScaler(device.type, enabled=mixed == torch.float16)
        batches = RealFillBatches(scene.refs, scene.target, ~scene.mask, int(cfg["resolution"]),
                                  int(cfg["batch_size"]), int(cfg["seed"]), float(cfg["full_mask_prob"]),
                                  float(cfg["complement_prob"]), float(cfg["prompt_dropout"]),
                                  int(cfg["max_rectangles"]))
        noise_gen = torch.Generator(device=device).manual_seed(int(cfg["seed"]) + 1)
        prompt_ids = backbone.tokenize(base["tokenizers"], [self.config["prompt"], ""])
        crop = (int(cfg["resolution"]), int(cfg["resolution"]))

        def encode(rows: list[int]):
            return backbone.encode(text_encoders, prompt_ids, rows, crop)

        scale = vae.config.scaling_factor
        step, losses, step_seconds, started = 0, [], [], time.time()
        if (ckpt_dir / "state.json").is_file():
            step, losses = self._load_checkpoint(ckpt_dir, models, optimizer, lr_schedule, scaler, batches, noise_gen)
        for model in models.values():
            model.train()
        total = int(cfg["steps"])
        bar = tqdm(total=total, initial=step, desc=f"realfill fit {scene.id}", unit="step", leave=False)
        while step < total:
            step_start = time.perf_counter()
            batch = batches.next()
            # one batched VAE call for images and masked images; in half precision under mixed
            # precision, as the community script casts its frozen VAE
            with torch.no_grad(), torch.autocast(device.type, dtype=mixed, enabled=mixed != torch.float32):
                pixels = torch.cat([batch.images, batch.conditioning]).to(device)
                latents_all = vae.encode(pixels).latent_dist.sample(generator=noise_gen).float() * scale
            latents, conditioning = latents_all.chunk(2)
            noise = torch.randn(latents.shape, generator=noise_gen, device=device)
            timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (latents.shape[0],),
                                      generator=noise_gen, device=device)
            loss = step_loss(unet, encode, noise_scheduler, batch.prompt_index, latents, conditioning, batch.masks,
                             batch.weightings, noise, timesteps, mixed)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params["unet"] + params["text"], float(cfg["max_grad_norm"]))
            scaler.step(optimizer)
            scaler.update()
            lr_schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(float(loss.detach()))
            step_seconds.append(time.perf_counter() - step_start)
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if step % int(cfg["checkpoint_every"]) == 0 and step < total:
                self._save_checkpoint(ckpt_dir, step, losses, models, optimizer, lr_schedule, scaler, batches,
                                      noise_gen)
        bar.close()
        self._save_lora(lora_dir, models, {"steps": step, "losses": losses, "step_seconds": step_seconds,
                                           "seconds": time.time() - started, "train": cfg, "model": self.model_id,
                                           "backbone": backbone.name, "device": str(device),
                                           "compute_dtype": str(mixed).removeprefix("torch.")})
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        log.info("realfill: fitted scene %s in %d steps (%.0f s, last loss %.4f)", scene.id, step,
                 time.time() - started, losses[-1] if losses else float("nan"))
        for model in models.values():
            model.eval()
        return losses

    # ------------------------------------------------------------------ persistence
    @staticmethod
    def _atomic_dir(final: Path, write) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        write(tmp)
        old = final.with_name(f".{final.name}.old")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def _load_adapters(folder: Path, models: dict[str, Any]) -> None:
        """Each model's LoRA weights from ``folder/<model>/`` (peft format, safetensors)."""
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        for name, model in models.items():
            set_peft_model_state_dict(model, load_file(str(folder / name / "adapter_model.safetensors")))

    def _save_lora(self, lora_dir: Path, models: dict[str, Any], info: dict) -> None:
        def write(tmp: Path) -> None:
            for name, model in models.items():
                model.save_pretrained(str(tmp / name))
            (tmp / "train.json").write_text(json.dumps(info, indent=1, default=str))

        self._atomic_dir(lora_dir, write)

    def _save_checkpoint(self, ckpt_dir, step, losses, models, optimizer, lr_schedule, scaler, batches,
                         noise_gen) -> None:
        import torch

        def write(tmp: Path) -> None:
            for name, model in models.items():
                model.save_pretrained(str(tmp / name))
            save_state(tmp, {"step": step, "losses": losses, "optimizer": optimizer.state_dict(),
                             "lr_schedule": lr_schedule.state_dict(), "scaler": scaler.state_dict(),
                             "batches": batches.state(), "noise_gen": noise_gen.get_state(),
                             "torch_rng": torch.get_rng_state(),
                             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None})

        self._atomic_dir(ckpt_dir, write)

    def _load_checkpoint(self, ckpt_dir, models, optimizer, lr_schedule, scaler, batches, noise_gen):
        import torch

        self._load_adapters(ckpt_dir, models)
        state = load_state(ckpt_dir)
        optimizer.load_state_dict(state["optimizer"])
        lr_schedule.load_state_dict(state["lr_schedule"])
        scaler.load_state_dict(state["scaler"])
        batches.load_state(state["batches"])
        noise_gen.set_state(state["noise_gen"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return int(state["step"]), list(state["losses"])

    # ------------------------------------------------------------------ sampling
    def _pipeline(self, models: dict[str, Any]):
        import diffusers
        import torch

        base = self._load_base()
        device = base["device"]
        dtype = pick_dtype(self.config["sample"]["dtype"], device)
        scheduler_cls = getattr(diffusers, SCHEDULERS[self.config["sample"]["scheduler"]])
        # the pipeline casts its modules in place; the shared VAE must stay float32 for the next
        # scene's training, so a half-precision pipeline gets its own copy
        frozen = {**base, "vae": base["vae"] if dtype == torch.float32 else copy.deepcopy(base["vae"])}
        merged = {name: model.merge_and_unload().eval() for name, model in models.items()}
        pipe = base["backbone"].pipeline(frozen, merged, scheduler_cls.from_config(base["noise_scheduler"].config))
        pipe = pipe.to(device) if dtype == torch.float32 else pipe.to(device, dtype)
        pipe.set_progress_bar_config(leave=False, desc="realfill sample")
        return pipe

    def generate(self, scene, seeds: Sequence[int]) -> list[Output]:
        import torch

        if self._pipe is None:
            raise RealBenchError("realfill.generate called before prepare", scene=scene.id)
        sample = self.config["sample"]
        short_side = sample["resolution"] or self.config["train"]["resolution"]
        target, mask, size = pipeline_inputs(scene, self.feather, short_side)
        n = len(seeds)
        with torch.no_grad():
            result = self._pipe(
                prompt=[self.config["prompt"]] * n, image=[target] * n,
                mask_image=[mask] * n, height=size[0], width=size[1],
                num_inference_steps=int(sample["steps"]), guidance_scale=float(sample["guidance"]),
                strength=1.0,  # from pure noise, every step run (SDXL's pipeline defaults to 0.9999: a step fewer)
                generator=generators(seeds, self._pipe.device), output_type="np").images
        info = {"lora": self._lora_id, "model": self.model_id, "backbone": self._load_base()["backbone"].name,
                "scheduler": SCHEDULERS[sample["scheduler"]],
                "steps": int(sample["steps"]), "guidance": float(sample["guidance"]), "safety_checker": None,
                "resolution": [size[1], size[0]], **dtype_of(self._pipe)}
        return [Output(image, {**info, "seed": int(seed)})
                for image, seed in zip(from_pipeline(result, scene.size), seeds)]

    def release(self) -> None:
        self._pipe = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
