"""RealFill's training data: mask statistics, loss weighting, prompt dropout."""
import numpy as np
import torch

from realbench.methods.realfill_data import RealFillBatches, make_mask, weighted_loss


def test_mask_is_union_of_rectangles_or_its_complement_with_p_half():
    rng = np.random.default_rng(0)
    flipped = 0
    for _ in range(2000):
        mask = make_mask(rng, 128)
        assert set(np.unique(mask)) <= {0.0, 1.0}
        # rectangles never touch the 1 % margin, so the corner tells which variant this is
        flipped += mask[0, 0] == 0.0
    assert abs(flipped / 2000 - 0.5) < 0.04


def test_single_rectangle_sizes_and_margins():
    rng = np.random.default_rng(1)
    res = 200
    widths = []
    for _ in range(500):
        mask = make_mask(rng, res, max_rectangles=2, complement_prob=0.0)  # exactly one known rectangle
        ys, xs = np.nonzero(mask == 0)
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert (mask == 0).sum() == h * w  # it is one rectangle
        assert int(0.03 * res) <= min(h, w) and max(h, w) < int(0.25 * res)
        assert ys.min() >= int(0.01 * res) and xs.max() < res - int(0.01 * res)
        widths.append(w)
    assert np.std(widths) > 5  # sizes really vary


def _batches(prob_full=0.1, prompt_dropout=0.1, seed=0, batch=64):
    rng = np.random.default_rng(3)
    target = rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)
    known = np.ones((80, 96), bool)
    known[:, :40] = False  # the target's missing region
    refs = [rng.integers(0, 256, (70, 120, 3), dtype=np.uint8)]
    return RealFillBatches(refs, target, known, 64, batch, seed, full_mask_prob=prob_full,
                           prompt_dropout=prompt_dropout), known


def test_full_mask_and_prompt_dropout_frequencies():
    batches, _ = _batches(batch=500)
    batch = batches.next()
    full = (batch.masks.flatten(1).min(dim=1).values == 1).float().mean().item()
    dropped = batch.prompt_index.float().mean().item()
    assert abs(full - 0.1) < 0.04 and abs(dropped - 0.1) < 0.04
    assert torch.equal(batch.conditioning, batch.images * (batch.masks < 0.5))


def test_target_weighting_is_zero_exactly_on_its_missing_region():
    batches, known = _batches(batch=40)
    batch = batches.next()
    assert batch.images.shape == (40, 3, 64, 64)
    ref_rows = batch.weightings.flatten(1).min(dim=1).values == 1
    target_rows = ~ref_rows
    assert target_rows.any() and ref_rows.any()
    # the target's weight map is its (resized, cropped) known mask: some zeros, and the zeros sit where
    # the target image is its missing-region content, which the test made a left band
    for weight in batch.weightings[target_rows]:
        assert 0 < weight.mean() < 1
        cols = weight[0].mean(dim=0)
        assert (np.diff((cols > 0.5).numpy().astype(int)) >= 0).all()  # unknown band on the left only


def test_loss_gives_zero_gradient_from_unknown_latents():
    pred = torch.randn(2, 4, 8, 8, requires_grad=True)
    noise = torch.randn(2, 4, 8, 8)
    weighting = torch.ones(2, 1, 8, 8)
    weighting[1, :, :, :3] = 0  # the target's missing region
    weighted_loss(pred, noise, weighting).backward()
    assert (pred.grad[1, :, :, :3] == 0).all()
    assert (pred.grad[1, :, :, 3:] != 0).all() and (pred.grad[0] != 0).all()


def test_batches_are_reproducible_and_resumable():
    a, _ = _batches(seed=5, batch=8)
    b, _ = _batches(seed=5, batch=8)
    first = a.next()
    state = a.state()
    second = a.next()
    b.next()
    b.load_state(state)
    again = b.next()
    assert torch.equal(second.images, again.images) and torch.equal(second.masks, again.masks)
    assert not torch.equal(first.masks, second.masks)


def test_step_loss_matches_a_per_example_reference(tmp_path):
    """The training loss with the text encoder run once per distinct prompt, against a direct
    per-example computation (explicit noising formula, strided mask downsampling)."""
    from diffusers import DDPMScheduler
    from tiny_diffusion import _text_encoder, _unet, build_clip_tokenizer

    from realbench.methods.realfill_data import step_loss

    torch.manual_seed(0)
    unet, text = _unet(32).eval(), _text_encoder().eval()
    tokenizer = build_clip_tokenizer(tmp_path / "tokenizer")
    ids = tokenizer(["a photo of sks", ""], padding="max_length", max_length=77, return_tensors="pt").input_ids
    scheduler = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    batch = _batches(batch=4, seed=3)[0].next()  # 64 px: 8x the 8 x 8 latents
    prompt_index = torch.tensor([0, 1, 0, 1])
    latents, conditioning, noise = torch.randn(3, 4, 4, 8, 8).unbind(0)
    timesteps = torch.tensor([10, 500, 999, 0])
    masks, weightings = batch.masks, batch.weightings
    with torch.no_grad():
        loss = step_loss(unet, lambda rows: (text(ids[rows])[0], None), scheduler, prompt_index, latents,
                         conditioning, masks, weightings, noise, timesteps, torch.float32)
        terms = []
        for i in range(4):
            alpha_bar = scheduler.alphas_cumprod[timesteps[i]]
            noisy = alpha_bar.sqrt() * latents[i] + (1 - alpha_bar).sqrt() * noise[i]
            hidden = text(ids[prompt_index[i]][None])[0]
            x = torch.cat([noisy, masks[i, :, ::8, ::8], conditioning[i]])[None]
            pred = unet(x, timesteps[i:i + 1], hidden).sample[0]
            terms.append(weightings[i, :, ::8, ::8] * (pred - noise[i]) ** 2)
        reference = torch.stack(terms).mean()
    torch.testing.assert_close(loss, reference, rtol=1e-5, atol=1e-6)
    assert weightings[:, :, ::8, ::8].min() == 0  # the weighting really removes something here
