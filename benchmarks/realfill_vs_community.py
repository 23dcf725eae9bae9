"""Side by side: realbench's ``realfill`` against the public community RealFill training script
(diffusers ``examples/research_projects/realfill/train_realfill.py``) on identical weights and data.

Why: the community script is what most people ran; if our training differs in masking, loss or
speed, numbers are not comparable. Both sides get the same random weights (saved once, loaded by
each from the same folder), the same scene folder (release layout, which is also the script's
``ref/`` + ``target/`` layout), the same hyper-parameters (ours: rank 8, alpha 16, dropout 0.1,
100 warm-up steps, passed to the script as flags) and a batch of one copy of each scene image,
which is what the script's loader yields. Random draws differ (each has its own generators), so
masking and loss are compared as distributions (two-sample KS / Welch tests), the trainable
LoRA parameter counts must match exactly, and the script's first step is replayed through our loss
(``step_loss``) with the script's own batch, latents, noise and timesteps: the two losses must agree
to rounding, since every LoRA up-projection is still zero at step 1.

The script is imported, not copied: pass its path. In-process patches only touch side effects
(trackers, the validation pipeline and the final pipeline save) or observe values without changing
them (VAE samples, ``torch.randn_like``, ``torch.randint``, ``F.interpolate``, the text encoder's
input ids); the training loop runs unchanged.
Needs ``accelerate`` (a peft dependency). Get the script with e.g.
  curl -LO https://raw.githubusercontent.com/huggingface/diffusers/main/examples/research_projects/realfill/train_realfill.py
Run: python benchmarks/realfill_vs_community.py --script train_realfill.py [--size tiny|sd2]
     [--steps 30] [--resolution 64] [--masks 2000] [--scene coffee-lighting] [--refs N]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location("community_train_realfill", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scene_folder(root: Path, scene_id: str, refs: int | None) -> Path:
    """A copy of one built-in sample scene, optionally cut to its first ``refs`` references."""
    from realbench.data.sample_data import ensure_sample

    source = ensure_sample() / scene_id
    if not source.is_dir():
        print(f"error: no sample scene {scene_id!r}", file=sys.stderr)
        sys.exit(2)
    folder = root / "data" / scene_id
    shutil.copytree(source, folder)
    if refs is not None:
        for extra in sorted((folder / "ref").iterdir())[refs:]:
            extra.unlink()
    return folder


# ---------------------------------------------------------------------- masking
def community_masks(module, folder: Path, tokenizer, resolution: int, count: int, seed: int) -> dict:
    """Draw ``count`` examples from the script's own dataset class, cycling over its images."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    dataset = module.RealFillDataset(folder, tokenizer, size=resolution)
    empty = tokenizer("", truncation=True, padding="max_length", max_length=tokenizer.model_max_length,
                      return_tensors="pt").input_ids
    rows = {"mask": [], "target": [], "weight": [], "dropped": []}
    for i in range(count):
        index = i % len(dataset)
        example = dataset[index]
        rows["mask"].append(example["masks"][0].numpy() > 0.5)
        rows["target"].append(index == len(dataset) - 1)
        rows["weight"].append(float(example["weightings"].float().mean()))
        rows["dropped"].append(bool(torch.equal(example["prompt_ids"], empty)))
    return {k: np.array(v) for k, v in rows.items()}


def realbench_masks(scene, resolution: int, count: int, seed: int) -> dict:
    from realbench.methods.realfill_data import RealFillBatches

    class Recording(RealFillBatches):  # remembers which image each example came from
        def _next_index(self) -> int:
            self.last = super()._next_index()
            return self.last

    cfg = _realfill_defaults()
    batches = Recording(scene.refs, scene.target, ~scene.mask, resolution, 1, seed, cfg["full_mask_prob"],
                        cfg["complement_prob"], cfg["prompt_dropout"], cfg["max_rectangles"])
    rows = {"mask": [], "target": [], "weight": [], "dropped": []}
    for _ in range(count):
        batch = batches.next()
        rows["mask"].append(batch.masks[0, 0].numpy() > 0.5)
        rows["target"].append(batches.last == len(scene.refs))
        rows["weight"].append(float(batch.weightings.mean()))
        rows["dropped"].append(int(batch.prompt_index[0]) == 1)
    return {k: np.array(v) for k, v in rows.items()}


def _realfill_defaults() -> dict:
    from realbench.methods.realfill import RealFill

    return RealFill.default_config["train"]


def mask_rows(ours: dict, theirs: dict) -> list[tuple[str, str, str, str]]:
    from scipy.stats import ks_2samp, norm

    rows = []
    full = [m.reshape(len(m), -1).all(1) for m in (theirs["mask"], ours["mask"])]
    rows.append(("whole image masked (expect 0.10)", f"{full[0].mean():.3f}", f"{full[1].mean():.3f}", ""))
    fractions = [m.reshape(len(m), -1).mean(1)[~f] for m, f in zip((theirs["mask"], ours["mask"]), full)]
    rows.append(("masked fraction, mean (partial masks)", f"{fractions[0].mean():.3f}", f"{fractions[1].mean():.3f}",
                 ""))
    for q in (10, 90):  # (the median is unstable: the distribution is bimodal, union vs complement)
        rows.append((f"masked fraction, p{q} (partial masks)", f"{np.percentile(fractions[0], q):.3f}",
                     f"{np.percentile(fractions[1], q):.3f}", ""))
    # A partial mask covers u or 1 - u of the image (union kept or complement, a fair coin), so
    # test the geometry on min(u, 1 - u) and the coin on its own; mixing them makes KS noisy.
    folded = [np.minimum(f, 1 - f) for f in fractions]
    ks = ks_2samp(folded[0], folded[1])
    rows.append(("min(u, 1-u): KS test of the rectangle geometry", f"{np.median(folded[0]):.3f}",
                 f"{np.median(folded[1]):.3f}", f"medians; D={ks.statistic:.3f} p={ks.pvalue:.2f}"))
    above = [(f > 0.5).sum() for f in fractions]
    p = [a / len(f) for a, f in zip(above, fractions)]
    pooled = sum(above) / sum(len(f) for f in fractions)
    z = (p[0] - p[1]) / np.sqrt(pooled * (1 - pooled) * sum(1 / len(f) for f in fractions))
    rows.append(("masks covering > half the image (coin, ~0.5)", f"{p[0]:.3f}", f"{p[1]:.3f}",
                 f"two-proportion p={2 * norm.sf(abs(z)):.2f}"))
    maps = [m.mean(0) for m in (theirs["mask"], ours["mask"])]
    blocks = [mp.reshape(8, mp.shape[0] // 8, 8, mp.shape[1] // 8).mean((1, 3)) for mp in maps]
    rows.append(("mean mask, 8x8 blocks: max |difference|", "", "", f"{np.abs(blocks[0] - blocks[1]).max():.3f}"))
    drop = [float(d["dropped"].mean()) for d in (theirs, ours)]
    rows.append(("prompt dropped (expect 0.10)", f"{drop[0]:.3f}", f"{drop[1]:.3f}", ""))
    weights = [float(d["weight"][d["target"]].mean()) for d in (theirs, ours)]
    rows.append(("target: loss weight mean (known share)", f"{weights[0]:.3f}", f"{weights[1]:.3f}", ""))
    ref_weights = [float(d["weight"][~d["target"]].min()) for d in (theirs, ours)]
    rows.append(("references: min loss weight (expect 1)", f"{ref_weights[0]:.3f}", f"{ref_weights[1]:.3f}", ""))
    return rows


# ---------------------------------------------------------------------- training
def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def community_train(module, model: Path, folder: Path, out: Path, resolution: int, batch: int, steps: int,
                    seed: int) -> dict:
    """Run the script's ``main`` unchanged; record each logged loss with its wall-clock time."""
    cfg = _realfill_defaults()
    logged: list[tuple[float, float]] = []
    counts: dict[str, int] = {}
    first: dict = {"vae_in": [], "vae_out": [], "interpolate": []}  # the script's first step, observed
    _observe_script(module, logged, counts, first)
    args = module.parse_args([
        "--pretrained_model_name_or_path", str(model), "--train_data_dir", str(folder), "--output_dir", str(out),
        "--seed", str(seed), "--resolution", str(resolution), "--train_batch_size", str(batch),
        "--max_train_steps", str(steps), "--checkpointing_steps", str(10 ** 9), "--validation_steps", str(10 ** 9),
        "--unet_learning_rate", str(cfg["unet_lr"]), "--text_encoder_learning_rate", str(cfg["text_encoder_lr"]),
        "--lr_scheduler", "constant_with_warmup", "--lr_warmup_steps", str(cfg["warmup_steps"]),
        "--lora_rank", str(cfg["lora_rank"]), "--lora_alpha", str(cfg["lora_alpha"]),
        "--lora_dropout", str(cfg["lora_dropout"]), "--max_grad_norm", str(cfg["max_grad_norm"]),
        "--mixed_precision", "no"])
    start = time.perf_counter()
    module.main(args)
    times = np.diff([start] + [t for t, _ in logged])
    return {"losses": np.array([loss for _, loss in logged]), "step_seconds": times, "trainable": counts,
            "first": first}


def _observe_script(module, logged: list, counts: dict, first: dict) -> None:
    """Patch the script's side effects (trackers, validation, the final save) away and observe its
    first step's draws (VAE samples, noise, timesteps, interpolated masks, prompt ids) in place."""

    def capturing() -> bool:
        return not logged

    class RecordingAccelerator(module.Accelerator):
        def __init__(self, *args, **kwargs):
            kwargs["log_with"] = None  # no tensorboard/wandb needed
            super().__init__(*args, **kwargs)

        def init_trackers(self, *args, **kwargs):
            pass

        def log(self, values, step=None, log_kwargs=None):
            logged.append((time.perf_counter(), float(values["loss"])))

    def observed(name, real):
        def call(*args, **kwargs):
            value = real(*args, **kwargs)
            if capturing():
                if name == "interpolate":
                    first["interpolate"].append(args[0].detach().cpu().clone())
                else:
                    first.setdefault(name, value.detach().cpu().clone())
            return value
        return call

    class NoSavePipeline:  # the script's final merge + save is not part of training
        @staticmethod
        def from_pretrained(*args, **kwargs):
            return NoSavePipeline()

        def save_pretrained(self, *args, **kwargs):
            pass

    module.Accelerator = RecordingAccelerator
    module.get_peft_model = _counting_get_peft_model(module.get_peft_model, counts, first, capturing)
    module.AutoencoderKL = _observed_vae(module.AutoencoderKL, first, capturing)
    module.torch = Namespace(module.torch, randn_like=observed("noise", module.torch.randn_like),
                             randint=observed("timesteps", module.torch.randint))
    module.F = Namespace(module.F, interpolate=observed("interpolate", module.F.interpolate))
    module.StableDiffusionInpaintPipeline = NoSavePipeline
    module.log_validation = lambda *args, **kwargs: []


def _counting_get_peft_model(real_get_peft_model, counts: dict, first: dict, capturing):
    """``get_peft_model`` that counts each wrapped model's trainable parameters and keeps the
    text encoder's first input ids."""

    def counting_get_peft_model(model_, config):
        wrapped = real_get_peft_model(model_, config)
        part = "unet" if "unet" not in counts else "text_encoder"
        counts[part] = trainable(wrapped)
        if part == "text_encoder":
            def keep_ids(_module, args, kwargs):
                if capturing() and "input_ids" not in first:
                    first["input_ids"] = (args[0] if args else kwargs["input_ids"]).detach().cpu().clone()
            wrapped.register_forward_pre_hook(keep_ids, with_kwargs=True)
        return wrapped

    return counting_get_peft_model


def _observed_vae(real_vae_class, first: dict, capturing):
    """A stand-in for ``AutoencoderKL`` that records what the script encodes and the latent samples it draws."""

    class ObservedVAE:
        @staticmethod
        def from_pretrained(*args, **kwargs):
            vae = real_vae_class.from_pretrained(*args, **kwargs)
            real_encode = vae.encode

            def encode(x, *a, **k):
                result = real_encode(x, *a, **k)
                if capturing():
                    first["vae_in"].append(x.detach().cpu().clone())
                    dist, real_sample = result.latent_dist, result.latent_dist.sample

                    def sample(*sa, **sk):
                        z = real_sample(*sa, **sk)
                        first["vae_out"].append(z.detach().cpu().clone())
                        return z
                    dist.sample = sample
                return result
            vae.encode = encode
            return vae

    return ObservedVAE


class Namespace:
    """A module with some attributes replaced, to observe the script's random draws in place."""

    def __init__(self, real, **overrides):
        self._real, self._overrides = real, overrides

    def __getattr__(self, name):
        return self._overrides[name] if name in self._overrides else getattr(self._real, name)


def realbench_first_step_loss(model: Path, first: dict) -> tuple[float, dict]:
    """Our loss on the script's own first batch and random draws. At step 1 every LoRA up-projection
    is zero, so both models are the base model and the two losses must agree to rounding."""
    import torch

    from realbench.methods.realfill import RealFill
    from realbench.methods.realfill_data import step_loss

    method = RealFill({"model": str(model)})
    base = method._load_base()
    backbone, models = base["backbone"], method._wrap_lora(method._fresh_models())
    text_encoders = {name: m for name, m in models.items() if name != "unet"}
    prompt_ids = backbone.tokenize(base["tokenizers"], [method.settings.prompt, ""])
    index = []
    for row in first["input_ids"]:
        matches = [i for i in range(2) if torch.equal(row.to(prompt_ids[0].device), prompt_ids[0][i])]
        if not matches:
            raise SystemExit("error: the script tokenised a prompt that is neither ours nor empty")
        index.append(matches[0])
    images, masked = first["vae_in"]
    masks, weightings = first["interpolate"][:2]
    latents, conditioning = (backbone.scale_latents(base["vae"], z) for z in first["vae_out"][:2])
    size = tuple(images.shape[2:])
    with torch.no_grad():
        loss = step_loss(models["unet"], lambda rows: backbone.encode(text_encoders, prompt_ids, rows, size),
                         base["noise_scheduler"], torch.tensor(index), latents, conditioning, masks, weightings,
                         first["noise"], first["timesteps"], torch.float32, backbone)
    checks = {"masked image = image * (mask < 0.5)": float((masked - images * (masks < 0.5)).abs().max()),
              "prompts dropped in the batch": sum(index)}
    return float(loss), checks


def realbench_train(model: Path, scene, work: Path, resolution: int, batch: int, steps: int, seed: int) -> dict:
    from realbench.methods.realfill import RealFill

    method = RealFill({"model": str(model), "train": {"steps": steps, "batch_size": batch, "resolution": resolution,
                                                      "seed": seed, "checkpoint_every": 10 ** 9}})
    models = method._wrap_lora(method._fresh_models())
    counts = {name: trainable(model) for name, model in models.items()}
    del models
    method.prepare(scene, work)
    info = json.loads(next(work.glob("lora-*/train.json")).read_text())
    result = {"losses": np.array(info["losses"]), "step_seconds": np.array(info["step_seconds"]),
              "trainable": counts, "method": method}
    return result


def train_rows(ours: dict, theirs: dict, bare: float,
               first_loss: tuple[float, dict]) -> list[tuple[str, str, str, str]]:
    from scipy.stats import ttest_ind

    rows = []
    loss, checks = first_loss
    theirs_first = float(theirs["losses"][0])
    rows.append(("step 1 on the script's own batch and draws: loss", f"{theirs_first:.6f}", f"{loss:.6f}",
                 f"|difference| {abs(loss - theirs_first):.1e}"))
    for name, value in checks.items():
        rows.append((f"  {name}", "", "", f"{value:g}"))
    for part in ("unet", "text_encoder"):
        a, b = theirs["trainable"].get(part, 0), ours["trainable"][part]
        rows.append((f"trainable LoRA parameters, {part}", f"{a:,}", f"{b:,}", "equal" if a == b else "DIFFERENT"))
    la, lb = theirs["losses"], ours["losses"]
    rows.append(("steps run", str(len(la)), str(len(lb)), ""))
    se = [x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan") for x in (la, lb)]
    test = ttest_ind(la, lb, equal_var=False)
    rows.append(("loss, mean +- s.e. over steps", f"{la.mean():.4f} +- {se[0]:.4f}", f"{lb.mean():.4f} +- {se[1]:.4f}",
                 f"Welch p={test.pvalue:.2f}"))
    half = len(la) // 2
    rows.append(("loss, mean of last half of steps", f"{la[half:].mean():.4f}", f"{lb[len(lb) // 2:].mean():.4f}", ""))
    ta, tb = np.median(theirs["step_seconds"][1:]), np.median(ours["step_seconds"][1:])
    rows.append(("train step, median seconds", f"{ta:.3f}", f"{tb:.3f}", f"ours / theirs = {tb / ta:.2f}"))
    rows.append(("  overhead over bare UNet fwd+bwd", f"{ta / bare:.2f}x", f"{tb / bare:.2f}x", f"bare {bare:.3f} s"))
    return rows


def print_table(title: str, rows) -> None:
    print(f"\n{title}")
    print(f"{'':44s} {'community':>18s} {'realbench':>18s}   note")
    for name, a, b, note in rows:
        print(f"{name:44s} {a:>18s} {b:>18s}   {note}")


def main() -> None:
    import torch
    from realfill_speed import bare_unet_step, save_sd2_architecture
    from tiny_diffusion import save_tiny_sd_inpainting

    from realbench.data.loading import load_benchmark

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--script", type=Path, required=True, help="path to the community train_realfill.py")
    parser.add_argument("--size", default="tiny", choices=["tiny", "sd2"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--resolution", type=int, default=None, help="default 64 (tiny) or 256 (sd2)")
    parser.add_argument("--masks", type=int, default=4000, help="examples drawn for the masking comparison")
    parser.add_argument("--scene", default="coffee-lighting", help="a built-in sample scene")
    parser.add_argument("--refs", type=int, default=None, help="keep only the first N references")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.script.is_file():
        print(f"error: {args.script} not found (see this file's docstring for where to get it)", file=sys.stderr)
        sys.exit(2)
    resolution = args.resolution or (64 if args.size == "tiny" else 256)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}; "
          f"{args.size} weights, {resolution} px, {args.steps} steps, scene {args.scene}")
    module = load_script(args.script)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = (save_sd2_architecture if args.size == "sd2" else save_tiny_sd_inpainting)(tmp / "model")
        folder = scene_folder(tmp, args.scene, args.refs)
        scene = load_benchmark(str(folder.parent))[0]
        batch = len(scene.refs) + 1
        print(f"scene {scene.id}: {len(scene.refs)} reference(s) + target -> batch {batch} on both sides")

        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(str(model), subfolder="tokenizer", use_fast=False)
        start = time.perf_counter()
        theirs = community_masks(module, folder, tokenizer, resolution, args.masks, args.seed)
        ours = realbench_masks(scene, resolution, args.masks, args.seed)
        print_table(f"Masking and data: {args.masks} examples each ({time.perf_counter() - start:.1f} s)",
                    mask_rows(ours, theirs))

        theirs_run = community_train(module, model, folder, tmp / "community-out", resolution, batch, args.steps,
                                     args.seed)
        ours_run = realbench_train(model, scene, tmp / "realbench-work", resolution, batch, args.steps, args.seed)
        bare = bare_unet_step(ours_run.pop("method"), batch, resolution)
        first_loss = realbench_first_step_loss(model, theirs_run["first"])
        print_table(f"Training: {args.steps} steps each, batch {batch}, {resolution} px",
                    train_rows(ours_run, theirs_run, bare, first_loss))


if __name__ == "__main__":
    main()
