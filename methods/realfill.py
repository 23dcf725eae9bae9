"""``realfill``: RealFill (Tang et al., SIGGRAPH 2024) on diffusers + peft, defaults = the paper.

prepare(scene): fine-tune LoRA adapters (rank 8) of the inpainting model's denoiser attention
projections and text encoder q/k/v on the scene's references and target (see
``realfill_data.py`` for masking and loss), saving them per scene under the run folder (peft
format, safetensors) keyed by the training-config hash and the scene checksum, with periodic
resumable checkpoints. The base model is Stable Diffusion 2 inpainting, as in the paper; what
differs between base models (their parts, latent encoding, prompt conditioning, the denoiser's
input, the training target and noising, the schedulers and the pipeline) is a backbone
(``backbones/``), picked from the model's ``model_index.json`` when the method is built: SDXL
inpainting and FLUX.1 Fill work too. generate(scene, seeds): DDPM sampling (a flow-matching
model: its Euler sampler), 200 steps, guidance 1, the target and its (dilated) mask as
conditioning at the working resolution (the training resolution, 512, on the shorter side: a
1024 px scene is generated at 512 and resized back), one generator per seed; the runner then
alpha-composites each output over the target with a 1-pixel feather, as RealFill's inference
does. ``sample.canvas=blank`` generates scene variants from an all-ones mask instead (Fig. 11):
generation only, nothing composited.

``LoRAFineTune`` is the machinery shared with ``dreambooth`` (the same LoRA, optimiser, batches,
gradient accumulation, checkpoints, out-of-memory advice, compute records and sampling); a
subclass supplies what it trains on and its loss. Neither holds model-family code.
"""
from __future__ import annotations

import copy
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from realbench.core import jsonio
from realbench.core.devices import pick_device
from realbench.core.errors import RealBenchError
from realbench.core.files import staged_folder
from realbench.core.provenance import config_hash
from realbench.core.settings import Number, nested, setting

from .backbones import SAMPLERS, Backbone, backbone_class
from .base import METHODS, MethodInfo, Output
from .diffusion import (
    SD2_INPAINTING,
    PipelineMethod,
    blank_canvas_inputs,
    check_dtype,
    dtype_of,
    from_pipeline,
    generators,
    is_out_of_memory,
    peak_memory_bytes,
    pick_dtype,
    pipeline_inputs,
    requested_memory,
    reset_peak_memory,
)
from .realfill_data import RealFillBatches, step_loss
from .training_state import load_state, save_state

log = logging.getLogger(__name__)


@dataclass
class LoRATrainSettings:
    """The fine-tune RealFill and DreamBooth share (the paper's defaults)."""

    steps: int = setting(2000, min=1, max=10_000_000, help="fine-tuning steps (optimiser steps)")
    batch_size: int = setting(16, min=1, max=4096, help="examples per micro-batch (the scene's images cycled)")
    grad_accum: int = setting(1, min=1, max=4096, since="0.2",
                              help="micro-batches per optimiser step: the effective batch is batch_size x grad_accum "
                                   "(less GPU memory, the same recipe)")
    resolution: int = setting(512, min=8, max=8192, multiple_of=8, help="training crop size (pixels)")
    unet_lr: float = setting(2e-4, above=0, help="learning rate of the denoiser's LoRA (UNet or transformer)")
    text_encoder_lr: float = setting(4e-5, min=0, help="learning rate of the text encoder's LoRA")
    warmup_steps: int = setting(100, min=0, max=10_000_000, help="linear warm-up steps")
    lora_rank: int = setting(8, min=1, max=4096, help="LoRA rank")
    lora_alpha: Number = setting(16, above=0, help="LoRA alpha")
    lora_dropout: float = setting(0.1, min=0, below=1, help="LoRA dropout")
    unet_targets: list[str] = setting(["to_q", "to_k", "to_v"],
                                      help="denoiser modules given LoRA adapters (UNet or transformer attention)")
    text_targets: list[str] = setting(["q_proj", "k_proj", "v_proj"], help="text encoder modules given LoRA adapters")
    adam_betas: list[float] = setting([0.9, 0.999], help="AdamW betas")
    weight_decay: float = setting(1e-2, min=0, help="AdamW weight decay")
    adam_eps: float = setting(1e-8, above=0, help="AdamW epsilon")
    max_grad_norm: float = setting(1.0, above=0, help="gradient clipping norm")
    prompt_dropout: float = setting(0.1, min=0, max=1, help="probability of training on the empty prompt")
    checkpoint_every: int = setting(250, min=1, max=10_000_000, help="steps between resumable checkpoints")
    seed: int = setting(0, help="seed of the training draws and the LoRA initialisation")
    mixed_precision: str = setting("no", help="no, fp16 or bf16 (GPUs only)")
    gradient_checkpointing: bool = setting(False, help="trade compute for GPU memory")


@dataclass
class TrainSettings(LoRATrainSettings):
    """RealFill's fine-tune: the shared one plus its random masks."""

    full_mask_prob: float = setting(0.1, min=0, max=1, help="probability of masking the whole image")
    complement_prob: float = setting(0.5, min=0, max=1, help="probability of flipping a random mask")
    max_rectangles: int = setting(30, min=2, max=10_000, help="rectangles per random mask (1 to this minus one)")


@dataclass
class SampleSettings:
    steps: int = setting(200, min=1, max=100_000, help="denoising steps")
    guidance: float = setting(1.0, min=0, max=1000, help="classifier-free guidance scale")
    batch: int = setting(4, min=1, max=4096, help="samples per pipeline call")
    # which of them the base model takes is its backbone's: checked when the method is built
    scheduler: str = setting("ddpm", choices=tuple(SAMPLERS),
                             help="sampler: ddpm, ddim or dpmsolver for SD models, flow-euler for FLUX Fill (the "
                                  "default, ddpm, means a flow-matching model's own flow-euler)")
    dtype: str = setting("fp16", help="precision on GPUs (fp16, bf16, fp32); the CPU computes in float32")
    # None: the training resolution (the LoRA learned 512 px crops), on the shorter side
    resolution: int | None = setting(None, min=8, max=8192, multiple_of=8,
                                        help="working resolution (shorter side); default: train.resolution")
    canvas: str = setting("target", choices=("target", "blank"), since="0.2",
                          help="target: complete the target; blank: an all-ones mask, every pixel generated "
                               "(scene variants, Fig. 11; generation only, not composited, no metrics)")


@dataclass
class FineTuneSettings:
    """What every per-scene fine-tune method takes besides its ``train`` and ``sample`` groups."""

    model: str = setting(SD2_INPAINTING, help="base model: a hub id or a local diffusers folder")
    prompt: str = setting("a photo of sks", help="the scene's prompt")
    feather: int = setting(1, min=0, max=1024, help="pixels over which the output is blended into the known region")
    device: str = setting("auto", help="torch device; 'auto' picks CUDA, then MPS, then the CPU")


@dataclass
class RealFillSettings(FineTuneSettings):
    train: TrainSettings = nested(TrainSettings)
    sample: SampleSettings = nested(SampleSettings)


@dataclass
class TrainContext:
    """What every micro-batch of one scene's fine-tune uses."""

    device: Any
    backbone: Backbone  # latents, noising, target and the denoiser's input
    vae: Any
    noise_scheduler: Any
    noise_gen: Any  # the training draws: VAE latents, noise, timesteps
    mixed: Any  # autocast dtype (float32: none)
    denoiser: Any  # the LoRA-wrapped UNet or transformer
    encode: Callable  # rows of [prompt, ""] -> (hidden states, extra conditioning or None)


@dataclass
class Optimisation:
    optimizer: Any
    lr_schedule: Any
    scaler: Any
    params: list


@dataclass
class FitProgress:
    """Where a scene's fine-tune is: steps done, their losses and times, the last checkpoint."""

    step: int = 0
    losses: list[float] = field(default_factory=list)
    seconds_before: float = 0.0  # training time before a resume (from the checkpoint)
    checkpointed: int = 0
    step_seconds: list[float] = field(default_factory=list)
    started: float = 0.0

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started


def smallest_divisor(n: int) -> int:
    return next(d for d in range(2, n + 1) if n % d == 0)


class LoRAFineTune(PipelineMethod):
    """Per-scene LoRA fine-tune of a diffusion model, then sampling through diffusers' inpainting
    pipeline. Subclasses say what kind of base model they take (``task``) and supply the
    training data (``make_batches``) and the loss (``encode_batch``, ``objective``); what depends
    on the base model's family is its backbone's (``backbones/``)."""

    task: ClassVar[str] = "inpainting"  # the base models it fine-tunes (backbones.TASKS)
    key_extra: ClassVar[dict[str, str]] = {}  # what else tells its fitted LoRA from another method's

    def __init__(self, config=None):
        super().__init__(config)  # merges settings and resolves the base model: missing weights fail here
        train, sample = self.settings.train, self.settings.sample
        check_dtype(train.mixed_precision, "train.mixed_precision")
        check_dtype(sample.dtype, "sample.dtype")
        # the model's kind from small files, so a wrong --model fails before any run folder exists
        self.backbone_cls = backbone_class(self.model_path, self.task)
        self.backbone_cls.check_model(self.model_path, self.task)
        self.sampler = self.backbone_cls.sampler(sample.scheduler)
        self.backbone_cls.check_guidance(sample.guidance)
        multiple = self.backbone_cls.pixel_multiple
        for name, value in (("train.resolution", train.resolution), ("sample.resolution", sample.resolution)):
            if value is not None and value % multiple:
                raise RealBenchError(f"{name}={value}: {self.backbone_cls.name} models take sides that are "
                                     f"multiples of {multiple}")
        self.generation_only = self.blank_canvas  # scene variants: nothing to score against the ground truth
        self._base: dict[str, Any] | None = None
        self._lora_id: str | None = None
        self._fit: dict[str, Any] = {}

    @property
    def generation_batch(self) -> int:
        return int(self.settings.sample.batch)

    @property
    def blank_canvas(self) -> bool:
        return self.settings.sample.canvas == "blank"

    @property
    def composites(self) -> bool:
        return not self.blank_canvas  # a blank canvas keeps nothing of the target

    @property
    def strength(self) -> float:
        return 1.0  # from pure noise, every step run (SDXL's pipeline defaults to 0.9999: a step fewer)

    @property
    def denoising_steps(self) -> int:
        """Denoising steps per sample, as the pipeline runs them for ``strength``."""
        steps = int(self.settings.sample.steps)
        return min(int(steps * self.strength), steps)

    # ------------------------------------------------------------------ loading
    def _load_base(self) -> dict[str, Any]:
        """Frozen parts shared by all scenes (VAE, tokenizers, noise schedule) and the backbone."""
        if self._base is None:
            device = pick_device(self.device or self.settings.device)
            backbone = self.backbone_cls(self.model_path, device)
            self._base = {"device": device, "backbone": backbone, **backbone.load_frozen()}
        return self._base

    def _fresh_models(self) -> dict[str, Any]:
        """The models LoRA adapts, freshly loaded: the denoiser and the text encoder(s)."""
        return self._load_base()["backbone"].load_trainable()

    def _wrap_lora(self, models: dict[str, Any]) -> dict[str, Any]:
        import torch
        from peft import LoraConfig, get_peft_model

        train = self.settings.train
        torch.manual_seed(int(train.seed))  # LoRA initialisation
        common: dict[str, Any] = dict(r=int(train.lora_rank), lora_alpha=int(train.lora_alpha),
                      lora_dropout=float(train.lora_dropout), bias="none")
        targets = self._load_base()["backbone"].lora_targets(train.unet_targets, train.text_targets)
        return {name: get_peft_model(model, LoraConfig(target_modules=targets[name], **common))
                for name, model in models.items()}

    def lora_key(self, scene) -> str:
        train = dict(self.config["train"])  # the JSON form: the key of LoRAs fitted by earlier versions
        if train.get("grad_accum") == 1:  # one micro-batch per step trains as before: earlier LoRAs stay valid
            del train["grad_accum"]
        return config_hash({"model": self.model_id, "prompt": self.settings.prompt, "train": train,
                            "scene": scene.checksum, **self.key_extra})

    def work_estimate(self, scene, workdir: Path | None = None) -> dict[str, int]:
        """What the scene costs, cheaply (no model loaded), for a run's ETA: optimiser steps still
        to run (none when its fitted LoRA is in ``workdir``, fewer after a checkpoint), examples
        per step, and the denoising steps of each sample."""
        train = self.settings.train
        total, done = int(train.steps), 0
        if workdir is not None:
            workdir = Path(workdir)
            if (workdir / f"lora-{self.lora_key(scene)}" / "train.json").is_file():
                done = total
            else:
                done = checkpoint_step(workdir / f"checkpoint-{self.lora_key(scene)}")
        return {"train_steps": max(total - done, 0), "train_steps_total": total,
                "micro_batches_per_step": int(train.grad_accum),
                "examples_per_step": int(train.batch_size) * int(train.grad_accum),
                "denoising_steps_per_sample": self.denoising_steps,
                "samples_per_call": int(self.settings.sample.batch)}

    # ------------------------------------------------------------------ prepare = fit
    def prepare(self, scene, workdir: Path) -> None:
        self.release()
        workdir = Path(workdir)
        reset_peak_memory(self._load_base()["device"])
        key = self.lora_key(scene)
        lora_dir = workdir / f"lora-{key}"
        models = self._wrap_lora(self._fresh_models())
        if (lora_dir / "train.json").is_file():
            self._load_adapters(lora_dir, models)
        else:
            self.train(scene, models, lora_dir, workdir / f"checkpoint-{key}")
        self._fit = jsonio.read_json(lora_dir / "train.json", "the fitted LoRA's train.json", allow_nan=True)
        self._lora_id = f"lora-{key}"
        self._pipe = self._pipeline(models)

    # ------------------------------------------------------------------ what a subclass trains
    def make_batches(self, scene) -> RealFillBatches:
        raise NotImplementedError

    def encode_batch(self, batch, ctx: TrainContext) -> tuple[Any, Any]:
        """(latents of the images, anything else the loss needs), drawn from ``ctx.noise_gen``."""
        raise NotImplementedError

    def objective(self, batch, latents, extra, noise, timesteps, ctx: TrainContext):
        raise NotImplementedError

    # ------------------------------------------------------------------ the fine-tune
    def train(self, scene, models: dict[str, Any], lora_dir: Path, ckpt_dir: Path) -> list[float]:
        """The fine-tune; resumes from ``ckpt_dir`` if a checkpoint is there. A CUDA
        out-of-memory error ends it with one error saying what to change (the checkpoint stays)."""
        ctx = self._train_context(models)
        opt = self._optimisation(models)
        batches = self.make_batches(scene)
        progress = FitProgress()
        if (ckpt_dir / "state.json").is_file():
            progress.step, progress.losses, progress.seconds_before = self._load_checkpoint(
                ckpt_dir, models, opt, batches, ctx.noise_gen)
        progress.checkpointed = progress.step
        for model in models.values():
            model.train()
        progress.started = time.perf_counter()
        self._fit_steps(scene, progress, ctx, opt, batches, models, ckpt_dir)
        self._finish_fit(scene, progress, ctx, models, lora_dir, ckpt_dir)
        return progress.losses

    def _fit_steps(self, scene, progress: FitProgress, ctx: TrainContext, opt: Optimisation, batches,
                   models: dict[str, Any], ckpt_dir: Path) -> None:
        """Optimiser steps up to ``train.steps``, a resumable checkpoint every ``checkpoint_every``."""
        from tqdm.auto import tqdm

        total, every = int(self.settings.train.steps), int(self.settings.train.checkpoint_every)
        bar = tqdm(total=total, initial=progress.step, desc=f"{self.info.name} fit {scene.id}", unit="step",
                   leave=False, disable=not self.progress)
        while progress.step < total:
            step_start = time.perf_counter()
            loss = oom_guard(partial(self._optimiser_step, batches, ctx, opt),
                             partial(self._oom_error, scene, f"training step {progress.step + 1} of {total}",
                                     checkpoint=progress.checkpointed))
            progress.step += 1
            progress.losses.append(loss)
            progress.step_seconds.append(time.perf_counter() - step_start)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}")
            if progress.step % every == 0 and progress.step < total:
                self._save_checkpoint(ckpt_dir, progress.step, progress.losses, progress.seconds(), models, opt,
                                      batches, ctx.noise_gen)
                progress.checkpointed = progress.step
        bar.close()

    def _finish_fit(self, scene, progress: FitProgress, ctx: TrainContext, models: dict[str, Any], lora_dir: Path,
                    ckpt_dir: Path) -> None:
        """Save the fitted LoRA with what produced it, and drop the checkpoint it supersedes."""
        seconds = progress.seconds()
        backbone = ctx.backbone
        self._save_lora(lora_dir, models, {
            "steps": progress.step, "losses": progress.losses, "step_seconds": progress.step_seconds,
            "seconds": seconds, "train": self.config["train"], "model": self.model_id, "backbone": backbone.name,
            "device": str(ctx.device), "compute_dtype": str(ctx.mixed).removeprefix("torch."),
            "peak_memory_bytes": peak_memory_bytes(ctx.device), **backbone.info()})
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        losses = progress.losses
        log.info("%s: fitted scene %s in %d steps (%.0f s, last loss %.4f)", self.info.name, scene.id, progress.step,
                 seconds, losses[-1] if losses else float("nan"))
        for model in models.values():
            model.eval()

    def _train_context(self, models: dict[str, Any]) -> TrainContext:
        import torch

        train, base = self.settings.train, self._load_base()
        device, backbone = base["device"], base["backbone"]
        text_encoders = {name: model for name, model in models.items() if name != backbone.denoiser}
        prompt_ids = backbone.tokenize(base["tokenizers"], [self.settings.prompt, ""])
        crop = (int(train.resolution), int(train.resolution))

        def encode(rows: list[int]):
            return backbone.encode(text_encoders, prompt_ids, rows, crop)

        return TrainContext(device, backbone, base["vae"], base["noise_scheduler"],
                            torch.Generator(device=device).manual_seed(int(train.seed) + 1),
                            pick_dtype(train.mixed_precision, device), models[backbone.denoiser], encode)

    def _optimisation(self, models: dict[str, Any]) -> Optimisation:
        import torch
        from diffusers.optimization import get_scheduler

        train, device = self.settings.train, self._load_base()["device"]
        denoiser = self.backbone_cls.denoiser
        if train.gradient_checkpointing:
            for name, model in models.items():
                if name == denoiser:
                    model.base_model.model.enable_gradient_checkpointing()
                else:
                    model.base_model.model.gradient_checkpointing_enable()
        adapted = [p for p in models[denoiser].parameters() if p.requires_grad]
        text = [p for name, m in models.items() if name != denoiser for p in m.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            [{"params": adapted, "lr": float(train.unet_lr)}, {"params": text, "lr": float(train.text_encoder_lr)}],
            betas=tuple(train.adam_betas), weight_decay=float(train.weight_decay), eps=float(train.adam_eps))
        lr_schedule = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=int(train.warmup_steps))
        mixed = pick_dtype(train.mixed_precision, device)
        scaler = torch.amp.GradScaler(device.type, enabled=mixed == torch.float16)
        return Optimisation(optimizer, lr_schedule, scaler, adapted + text)

    def encode_pixels(self, pixels, ctx: TrainContext):
        """The backbone's VAE latents of ``pixels``; in half precision under mixed precision, as the
        community script casts its frozen VAE."""
        import torch

        with torch.no_grad(), torch.autocast(ctx.device.type, dtype=ctx.mixed, enabled=ctx.mixed != torch.float32):
            return ctx.backbone.encode_latents(ctx.vae, pixels.to(ctx.device), ctx.noise_gen)

    def micro_loss(self, batch, ctx: TrainContext):
        """The loss of one micro-batch: its latents, noise and timesteps drawn in that order."""
        latents, extra = self.encode_batch(batch, ctx)
        noise, timesteps = ctx.backbone.draw_noise(ctx.noise_scheduler, latents, ctx.noise_gen)
        return self.objective(batch, latents, extra, noise, timesteps, ctx)

    def _optimiser_step(self, batches, ctx: TrainContext, opt: Optimisation) -> float:
        """One optimiser step over ``grad_accum`` micro-batches: each loss divided by their count,
        so the accumulated gradient is the gradient of the mean loss over the effective batch."""
        import torch

        accum = int(self.settings.train.grad_accum)
        total = 0.0
        for _ in range(accum):
            loss = self.micro_loss(batches.next(), ctx)
            opt.scaler.scale(loss / accum if accum > 1 else loss).backward()
            total += float(loss.detach())
        opt.scaler.unscale_(opt.optimizer)
        torch.nn.utils.clip_grad_norm_(opt.params, float(self.settings.train.max_grad_norm))
        opt.scaler.step(opt.optimizer)
        opt.scaler.update()
        opt.lr_schedule.step()
        opt.optimizer.zero_grad(set_to_none=True)
        return total / accum if accum > 1 else total

    # ------------------------------------------------------------------ out of memory
    def _oom_error(self, scene, where: str, exc: BaseException, *, checkpoint: int | None = None) -> RealBenchError:
        """One line: where memory ran out, what was asked for, what uses less, and what a rerun keeps."""
        asked = requested_memory(exc)
        head = f"out of GPU memory during {where}" + (f" (tried to allocate {asked})" if asked else "")
        training = where.startswith("training")
        tips = self._memory_tips(training)
        if not training:
            keep = "the fitted LoRA is kept: the same command run again goes straight to sampling"
        elif checkpoint:
            keep = (f"the checkpoint of step {checkpoint} is kept: the same command run again (e.g. once other "
                    "processes free GPU memory) resumes from it; other settings need another --out and train afresh")
        else:
            keep = f"no checkpoint yet (one every train.checkpoint_every={self.settings.train.checkpoint_every} steps)"
        advice = f"; to use less memory: {', '.join(tips)}" if tips else ""
        return RealBenchError(f"{head}{advice}; {keep}", scene=scene.id)

    def _memory_tips(self, training: bool) -> list[str]:
        """The settings that would use less memory, each as the flag to pass."""
        train, sample_batch = self.settings.train, int(self.settings.sample.batch)
        batch, accum = int(train.batch_size), int(train.grad_accum)
        tips = []
        if training:
            if batch > 1:
                d = smallest_divisor(batch)
                tips.append(f"--set train.batch_size={batch // d} --set train.grad_accum={accum * d} (the same "
                            f"{batch * accum} examples per step)")
            if not train.gradient_checkpointing:
                tips.append("--set train.gradient_checkpointing=true")
            if str(train.mixed_precision) in ("no", "fp32", "float32"):
                tips.append("--set train.mixed_precision=bf16")
        if sample_batch > 1:
            tips.append(f"--set sample.batch={max(1, sample_batch // 2)} (for sampling)")
        return tips

    # ------------------------------------------------------------------ persistence
    @staticmethod
    def _atomic_dir(final: Path, write) -> None:
        """A LoRA or a checkpoint written whole, replacing the previous one (files.staged_folder)."""
        with staged_folder(final, replace=True) as tmp:
            write(tmp)

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
            (tmp / "train.json").write_text(jsonio.dumps(info, indent=1))  # strict: a NaN loss is null

        self._atomic_dir(lora_dir, write)

    def _save_checkpoint(self, ckpt_dir, step, losses, seconds, models, opt: Optimisation, batches,
                         noise_gen) -> None:
        import torch

        def write(tmp: Path) -> None:
            for name, model in models.items():
                model.save_pretrained(str(tmp / name))
            save_state(tmp, {"step": step, "losses": losses, "seconds": seconds,
                             "optimizer": opt.optimizer.state_dict(), "lr_schedule": opt.lr_schedule.state_dict(),
                             "scaler": opt.scaler.state_dict(), "batches": batches.state(),
                             "noise_gen": noise_gen.get_state(), "torch_rng": torch.get_rng_state(),
                             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None})

        self._atomic_dir(ckpt_dir, write)

    def _load_checkpoint(self, ckpt_dir, models, opt: Optimisation, batches, noise_gen):
        import torch

        self._load_adapters(ckpt_dir, models)
        state = load_state(ckpt_dir)
        opt.optimizer.load_state_dict(state["optimizer"])
        opt.lr_schedule.load_state_dict(state["lr_schedule"])
        opt.scaler.load_state_dict(state["scaler"])
        batches.load_state(state["batches"])
        noise_gen.set_state(state["noise_gen"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return int(state["step"]), list(state["losses"]), float(state.get("seconds", 0.0))

    # ------------------------------------------------------------------ sampling
    def _pipeline(self, models: dict[str, Any]):
        import torch

        base = self._load_base()
        device, backbone = base["device"], base["backbone"]
        dtype = pick_dtype(self.settings.sample.dtype, device)
        # the pipeline casts its modules in place; the shared frozen ones (VAE, a frozen text
        # encoder) must stay float32 for the next scene's training, so a half-precision pipeline
        # gets its own copies
        frozen = {name: copy.deepcopy(part) if dtype != torch.float32 and isinstance(part, torch.nn.Module) else part
                  for name, part in base.items()}
        merged = {name: model.merge_and_unload().eval() for name, model in models.items()}
        pipe = backbone.pipeline(frozen, merged, backbone.sampling_scheduler(self.sampler, base["noise_scheduler"]))
        pipe = pipe.to(device) if dtype == torch.float32 else pipe.to(device, dtype)
        pipe.set_progress_bar_config(leave=False, desc=f"{self.info.name} sample", disable=not self.progress)
        return pipe

    def sample_info(self) -> dict[str, Any]:
        """What the records say about how a sample was made (beyond seed, resolution, compute)."""
        sample, backbone = self.settings.sample, self._load_base()["backbone"]
        return {"lora": self._lora_id, "model": self.model_id, "backbone": backbone.name,
                "scheduler": SAMPLERS[self.sampler], "steps": int(sample.steps),
                "guidance": float(sample.guidance), "safety_checker": None, **backbone.info(),
                **({"canvas": "blank"} if self.blank_canvas else {})}

    def generate(self, scene, seeds: Sequence[int]) -> list[Output]:
        import torch

        if self._pipe is None:
            raise RealBenchError(f"{self.info.name}.generate called before prepare", scene=scene.id)
        sample, backbone = self.settings.sample, self._load_base()["backbone"]
        short_side, multiple = sample.resolution or self.settings.train.resolution, backbone.pixel_multiple
        target, mask, size = (blank_canvas_inputs(scene, short_side, multiple) if self.blank_canvas
                              else pipeline_inputs(scene, self.feather, short_side, multiple))
        n, started = len(seeds), time.perf_counter()

        def call():
            with torch.no_grad():
                return self._pipe(
                    prompt=[self.settings.prompt] * n, image=[target] * n, mask_image=[mask] * n,
                    height=size[0], width=size[1], num_inference_steps=int(sample.steps), strength=self.strength,
                    generator=generators(seeds, self._pipe.device), output_type="np",
                    **backbone.pipeline_kwargs(float(sample.guidance))).images

        result = oom_guard(call, lambda exc: self._oom_error(scene, f"sampling ({n} per call)", exc))
        info = {**self.sample_info(), "resolution": [size[1], size[0]], **dtype_of(self._pipe),
                "compute": self._compute((time.perf_counter() - started) / max(n, 1))}
        return [Output(image, {**info, "seed": int(seed)})
                for image, seed in zip(from_pipeline(result, scene.size), seeds)]

    def _compute(self, sample_seconds: float) -> dict[str, Any]:
        """This scene's cost: its fine-tune (when it was fitted, in this run or an earlier one),
        sampling seconds per sample, and the peak accelerator memory (None off CUDA)."""
        import torch

        device = self._pipe.device
        peaks = [p for p in (self._fit.get("peak_memory_bytes"), peak_memory_bytes(device)) if p is not None]
        return {"train_seconds": self._fit.get("seconds"), "train_steps": self._fit.get("steps"),
                "sample_seconds": sample_seconds, "peak_memory_bytes": max(peaks) if peaks else None,
                "device": str(device),
                "accelerator": torch.cuda.get_device_name(device) if device.type == "cuda" else None}

    def release(self) -> None:
        self._pipe = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


def oom_guard(action: Callable[[], Any], describe: Callable[[BaseException], RealBenchError]) -> Any:
    """``action()``; a CUDA out-of-memory error in it becomes the error ``describe`` makes of it,
    raised outside the handler so the failed step's tensors are not kept alive by a traceback."""
    try:
        return action()
    except RuntimeError as exc:
        if not is_out_of_memory(exc):
            raise
        error = describe(exc)
    raise error


def checkpoint_step(folder: Path) -> int:
    """The step a resumable checkpoint holds (0 if there is none or it cannot be read)."""
    try:
        return int(json.loads((Path(folder) / "state.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


@METHODS.register("realfill")
class RealFill(LoRAFineTune):
    info = MethodInfo("realfill", stochastic=True, needs_weights=True,
                      description="RealFill: LoRA fine-tune of an inpainting model (SD2 by default) per scene, "
                                  "then DDPM sampling")
    Settings = RealFillSettings

    def make_batches(self, scene) -> RealFillBatches:
        train = self.settings.train
        return RealFillBatches(scene.refs, scene.target, ~scene.mask, int(train.resolution), int(train.batch_size),
                               int(train.seed), float(train.full_mask_prob), float(train.complement_prob),
                               float(train.prompt_dropout), int(train.max_rectangles))

    def encode_batch(self, batch, ctx: TrainContext):
        import torch

        # one batched VAE call for images and masked images
        latents, conditioning = self.encode_pixels(torch.cat([batch.images, batch.conditioning]), ctx).chunk(2)
        return latents, conditioning

    def objective(self, batch, latents, conditioning, noise, timesteps, ctx: TrainContext):
        return step_loss(ctx.denoiser, ctx.encode, ctx.noise_scheduler, batch.prompt_index, latents, conditioning,
                         batch.masks, batch.weightings, noise, timesteps, ctx.mixed, ctx.backbone)
