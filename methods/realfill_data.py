"""RealFill's training data: references and the target, each with a fresh random mask per step.

Faithful to the public RealFill training script (diffusers research project): random rectangles
whose *union is kept* and the rest masked, or the complement (p = 0.5); the whole image masked
with p = 0.1; random resize of the shorter side to [res, 1.125 res) then a random res x res crop;
the prompt dropped to "" with p = 0.1; the target's loss weighted by its known pixels only.
Unlike that script, a batch always holds ``batch_size`` examples (images are cycled), which is
what "batch 16" means for scenes of 2-6 images.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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
    masks: object         # N x 1 x R x R, 1 = masked
    weightings: object    # N x 1 x R x R, 1 = counts in the loss
    conditioning: object  # images * (masks < 0.5)
    prompt_index: object  # N, 0 = the scene prompt, 1 = "" (dropped)


class RealFillBatches:
    """Draws training batches for one scene from its own seeded generators (state is saveable)."""

    def __init__(self, refs: Sequence[np.ndarray], target: np.ndarray, known: np.ndarray, resolution: int,
                 batch_size: int, seed: int, full_mask_prob: float = 0.1, complement_prob: float = 0.5,
                 prompt_dropout: float = 0.1, max_rectangles: int = 30):
        import torch

        self.images = [torch.from_numpy(np.array(a)).permute(2, 0, 1).float() / 127.5 - 1.0 for a in [*refs, target]]
        ones = [torch.ones(1, *a.shape[:2]) for a in refs]
        self.weights = ones + [torch.from_numpy(np.array(known, dtype=np.float32))[None]]
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
            if self.rng.random() < self.full_mask_prob:
                mask = np.ones((self.resolution, self.resolution), np.float32)
            else:
                mask = make_mask(self.rng, self.resolution, self.max_rectangles, self.complement_prob)
            images.append(image)
            weights.append(weight)
            masks.append(torch.from_numpy(mask)[None])
            prompts.append(1 if self.rng.random() < self.prompt_dropout else 0)
        images_t, masks_t = torch.stack(images), torch.stack(masks)
        return Batch(images_t, masks_t, torch.stack(weights), images_t * (masks_t < 0.5), torch.tensor(prompts))


def weighted_loss(model_pred, noise, weighting):
    """RealFill's loss: MSE on the noise, each latent pixel weighted (0 where the target is unknown)."""
    import torch.nn.functional as F

    return (weighting * F.mse_loss(model_pred.float(), noise.float(), reduction="none")).mean()


def step_loss(unet, encode, noise_scheduler, prompt_index, latents, conditioning, masks, weightings, noise,
              timesteps, mixed):
    """RealFill's loss on one batch whose random draws are given: scaled VAE latents of the images
    and of the masked images, pixel-resolution masks and loss weights, noise and timesteps. Kept
    apart from the training loop so it can be checked against other implementations on identical
    draws (benchmarks/realfill_vs_community.py). ``encode(rows)`` gives the denoiser's
    conditioning for those prompts (a backbone's ``encode``): hidden states and the extra
    ``added_cond_kwargs`` (SDXL) or None; ``prompt_index`` picks each example's prompt."""
    import torch
    import torch.nn.functional as F

    device, size = latents.device, latents.shape[2:]
    masks = F.interpolate(masks.to(device), size=size)
    weightings = F.interpolate(weightings.to(device), size=size)
    noisy = noise_scheduler.add_noise(latents, noise, timesteps)
    with torch.autocast(device.type, dtype=mixed, enabled=mixed != torch.float32):
        present = sorted(set(prompt_index.tolist()))  # the text encoders once per distinct prompt
        hidden, added = encode(present)
        rows = torch.tensor([present.index(p) for p in prompt_index.tolist()], device=device)
        kwargs = {"added_cond_kwargs": {k: v[rows] for k, v in added.items()}} if added else {}
        pred = unet(torch.cat([noisy, masks, conditioning], dim=1), timesteps, hidden[rows], **kwargs).sample
    return weighted_loss(pred, noise, weightings)
