"""RealFill's training data: references and the target, each with a fresh random mask per step.

Faithful to the public RealFill training script (diffusers research project): random rectangles
whose *union is kept* and the rest masked, or the complement (p = 0.5); the whole image masked
with p = 0.1; random resize of the shorter side to [res, 1.125 res) then a random res x res crop;
the prompt dropped to "" with p = 0.1; the target's loss weighted by its known pixels only.
Unlike that script, a batch always holds ``batch_size`` examples (images are cycled), which is
what "batch 16" means for scenes of 2-6 images. DreamBooth draws the same way from the references
alone, without masks (``target=None, draw_masks=False``), and its loss is the plain denoising one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .backbones.base import Backbone


def make_mask(rng: np.random.Generator, resolution: int, max_rectangles: int = 30,
              complement_prob: float = 0.5) -> np.ndarray:
    """1 = masked (to be inpainted). Start fully masked, carve 1..max_rectangles-1 known rectangles
    of 3-25 % of the side, and flip the whole mask with probability ``complement_prob``."""
    mask = np.ones((resolution, resolution), np.float32)
    count = int(rng.integers(1, max_rectangles))
    min_size, max_size, margin = 0.03 * resolution, 0.25 * resolution, 0.01 * resolution
    max_size = min(max_size, resolution - margin * 2)
    for _ in range(count):
        width = int(rng.integers(int(min_size), int(max_size)))
        height = int(rng.integers(int(min_size), int(max_size)))
        x0 = int(rng.integers(int(margin), resolution - int(margin) - width + 1))
        y0 = int(rng.integers(int(margin), resolution - int(margin) - height + 1))
        mask[y0:y0 + height, x0:x0 + width] = 0.0
    if rng.random() < complement_prob:
        mask = 1.0 - mask
    return mask


@dataclass
class Batch:
    images: object        # N x 3 x R x R in [-1, 1]
    masks: object         # N x 1 x R x R, 1 = masked (None without masks)
    weightings: object    # N x 1 x R x R, 1 = counts in the loss
    conditioning: object  # images * (masks < 0.5) (None without masks)
    prompt_index: object  # N, 0 = the scene prompt, 1 = "" (dropped)


class RealFillBatches:
    """Draws training batches for one scene from its own seeded generators (state is saveable).
    Every example's draws come in order (image, crop, mask, prompt), so ``k`` batches of ``n``
    are the examples of one batch of ``k * n`` (gradient accumulation draws what a big batch does)."""

    def __init__(self, refs: Sequence[np.ndarray], target: np.ndarray | None, known: np.ndarray | None,
                 resolution: int, batch_size: int, seed: int, full_mask_prob: float = 0.1,
                 complement_prob: float = 0.5, prompt_dropout: float = 0.1, max_rectangles: int = 30,
                 draw_masks: bool = True):
        import torch

        scene_images = [*refs] if target is None else [*refs, target]
        self.images = [torch.from_numpy(np.array(a)).permute(2, 0, 1).float() / 127.5 - 1.0 for a in scene_images]
        ones = [torch.ones(1, *a.shape[:2]) for a in refs]
        self.weights = ones if target is None else ones + [torch.from_numpy(np.array(known, dtype=np.float32))[None]]
        self.draw_masks = draw_masks
        self.resolution, self.batch_size = resolution, batch_size
        self.full_mask_prob, self.complement_prob = full_mask_prob, complement_prob
        self.prompt_dropout, self.max_rectangles = prompt_dropout, max_rectangles
        self.rng = np.random.default_rng(seed)
        self.order: list[int] = []

    def state(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "order": list(self.order)}

    def load_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.order = list(state["order"])

    def _next_index(self) -> int:
        if not self.order:
            self.order = [int(i) for i in self.rng.permutation(len(self.images))]
        return self.order.pop(0)

    def _resize_crop(self, image, weight):
        import torch.nn.functional as F

        res = self.resolution
        short = int(self.rng.integers(res, max(res + 1, int(1.125 * res))))
        h, w = image.shape[1:]
        scale = short / min(h, w)
        size = (max(res, round(h * scale)), max(res, round(w * scale)))
        image = F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
        weight = F.interpolate(weight[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
        top = int(self.rng.integers(0, size[0] - res + 1))
        left = int(self.rng.integers(0, size[1] - res + 1))
        crop = (slice(None), slice(top, top + res), slice(left, left + res))
        return image[crop], (weight[crop] > 0.5).float()

    def next(self) -> Batch:
        import torch

        images, masks, weights, prompts = [], [], [], []
        for _ in range(self.batch_size):
            index = self._next_index()
            image, weight = self._resize_crop(self.images[index], self.weights[index])
            if self.draw_masks:
                masks.append(torch.from_numpy(self._mask())[None])
            images.append(image)
            weights.append(weight)
            prompts.append(1 if self.rng.random() < self.prompt_dropout else 0)
        images_t = torch.stack(images)
        if not self.draw_masks:
            return Batch(images_t, None, torch.stack(weights), None, torch.tensor(prompts))
        masks_t = torch.stack(masks)
        return Batch(images_t, masks_t, torch.stack(weights), images_t * (masks_t < 0.5), torch.tensor(prompts))

    def _mask(self) -> np.ndarray:
        if self.rng.random() < self.full_mask_prob:
            return np.ones((self.resolution, self.resolution), np.float32)
        return make_mask(self.rng, self.resolution, self.max_rectangles, self.complement_prob)


def weighted_loss(model_pred, target, weighting):
    """RealFill's loss: MSE on the target (the noise, v or the flow's velocity), each latent pixel
    weighted (0 where the target is unknown)."""
    import torch.nn.functional as F

    return (weighting * F.mse_loss(model_pred.float(), target.float(), reduction="none")).mean()


def step_loss(denoiser, encode, noise_scheduler, prompt_index, latents, conditioning, masks, weightings, noise,
              timesteps, mixed, backbone: type[Backbone] | Backbone = Backbone):
    """RealFill's loss on one batch whose random draws are given: latents of the images and of the
    masked images (``backbone.encode_latents``), pixel-resolution masks and loss weights, noise
    and timesteps. Kept apart from the training loop so it can be checked against other
    implementations on identical draws (benchmarks/realfill_vs_community.py). ``encode(rows)``
    gives the denoiser's conditioning for those prompts (a backbone's ``encode``): hidden states
    and the extra conditioning (SDXL's ``added_cond_kwargs``, FLUX's pooled projection) or None;
    ``prompt_index`` picks each example's prompt. The backbone says how the latents are noised,
    what is predicted and how the denoiser takes its inputs; the default, the base class, is the
    latent-diffusion UNet's (SD 1/2, SDXL)."""
    import torch
    import torch.nn.functional as F

    device, size = latents.device, latents.shape[2:]
    masks = backbone.mask_latents(masks, latents)
    weightings = F.interpolate(weightings.to(device), size=size)
    noisy = backbone.add_noise(noise_scheduler, latents, noise, timesteps)
    with torch.autocast(device.type, dtype=mixed, enabled=mixed != torch.float32):
        hidden, extra = prompt_conditioning(encode, prompt_index, device)
        pred = backbone.predict(denoiser, noisy, masks, conditioning, timesteps, hidden, extra)
    return weighted_loss(pred, backbone.target(noise_scheduler, latents, noise, timesteps), weightings)


def denoising_loss(denoiser, encode, noise_scheduler, prompt_index, latents, noise, timesteps, mixed,
                   backbone: type[Backbone] | Backbone = Backbone):
    """DreamBooth's loss on one batch whose draws are given: the plain MSE on the target over the
    whole image, with a text-to-image denoiser that sees only the noised latents (no mask, no
    masked image, every latent pixel counted). Same conditioning and precision handling as ``step_loss``."""
    import torch
    import torch.nn.functional as F

    noisy = backbone.add_noise(noise_scheduler, latents, noise, timesteps)
    with torch.autocast(latents.device.type, dtype=mixed, enabled=mixed != torch.float32):
        hidden, extra = prompt_conditioning(encode, prompt_index, latents.device)
        pred = backbone.predict(denoiser, noisy, None, None, timesteps, hidden, extra)
    return F.mse_loss(pred.float(), backbone.target(noise_scheduler, latents, noise, timesteps).float())


def prompt_conditioning(encode, prompt_index, device):
    """Each example's conditioning, running the text encoders once per distinct prompt: hidden
    states and the extra conditioning (each of its tensors one row per prompt), or None."""
    import torch

    present = sorted(set(prompt_index.tolist()))
    hidden, added = encode(present)
    rows = torch.tensor([present.index(p) for p in prompt_index.tolist()], device=device)
    return hidden[rows], ({k: v[rows] for k, v in added.items()} if added else None)
