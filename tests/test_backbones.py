"""RealFill's base-model seam: SD2, SDXL and FLUX.1 Fill backbones, picked from model_index.json.

The SDXL conditioning is checked against diffusers' own SDXL inpainting pipeline (its
``encode_prompt`` and ``_get_add_time_ids``), the SDXL loss against a per-example computation, and a
tiny random SDXL inpainting model is fine-tuned for two steps and sampled end to end through
``--model``, as a user would; ``sd-inpaint`` runs it too (``AutoPipelineForInpainting``).

Issue 21 (the seam owns latents, noising, target, the denoiser's input and the schedulers): SD2,
SDXL and DreamBooth losses of a whole training micro-batch equal, bit for bit, the formula the
methods used before the seam, written out here; FLUX Fill's prompt conditioning and transformer
inputs equal those ``FluxFillPipeline`` builds for the same image and mask, its loss is flow
matching (checked per example), and a tiny random FLUX Fill model trains two steps and samples end
to end through ``realbench.evaluate``."""
import json

import numpy as np
import pytest
import torch
from tiny_diffusion import (
    save_tiny_flux_fill,
    save_tiny_sd_inpainting,
    save_tiny_sd_text_to_image,
    save_tiny_sdxl_inpainting,
)

from realbench import RealBenchError, evaluate
from realbench.cli import main
from realbench.core.compositing import feather_band
from realbench.core.imageio import read_rgb
from realbench.methods.backbones import BACKBONES, backbone_for
from realbench.methods.realfill_data import step_loss
from realbench.run.records import read_record_dicts
from realbench.weights import resolve

SCENE = "chelsea-defocus"
FAST = ["--set", "train.steps=2", "--set", "train.batch_size=4", "--set", "train.resolution=64",
        "--set", "sample.steps=2", "--no-progress"]


@pytest.fixture(scope="module")
def tiny_sdxl(tmp_path_factory):
    return save_tiny_sdxl_inpainting(tmp_path_factory.mktemp("models") / "sdxl-inpainting")


def _known_pixels_kept(out, bench, feather=1):
    for record in read_record_dicts(out / "records.jsonl"):
        scene = bench[record["scene"]]
        outside = ~scene.mask & ~feather_band(scene.mask, feather)
        np.testing.assert_array_equal(read_rgb(out / record["image"])[outside], scene.target[outside])


def test_the_backbone_comes_from_the_models_pipeline_class(tiny_sdxl, tmp_path):
    sd2 = save_tiny_sd_inpainting(tmp_path / "sd2")
    assert backbone_for(sd2, torch.device("cpu")).name == "sd2"
    assert backbone_for(tiny_sdxl, torch.device("cpu")).name == "sdxl"
    assert set(BACKBONES.names()) >= {"sd2", "sdxl"}
    index = json.loads((sd2 / "model_index.json").read_text())
    (sd2 / "model_index.json").write_text(json.dumps({**index, "_class_name": "StableDiffusion3InpaintPipeline"}))
    with pytest.raises(RealBenchError,
                       match="no backbone for 'StableDiffusion3InpaintPipeline'.*StableDiffusionXLInpaintPipeline"):
        backbone_for(sd2, torch.device("cpu"))


def _sdxl_parts(path):
    backbone = backbone_for(path, torch.device("cpu"))
    frozen, models = backbone.load_frozen(), backbone.load_trainable()
    return backbone, frozen, models


def test_sdxl_conditioning_equals_the_diffusers_pipeline(tiny_sdxl):
    from diffusers import StableDiffusionXLInpaintPipeline

    backbone, frozen, models = _sdxl_parts(tiny_sdxl)
    encoders = {k: v.eval() for k, v in models.items() if k != "unet"}
    ids = backbone.tokenize(frozen["tokenizers"], ["a photo of sks", ""])
    pipe = StableDiffusionXLInpaintPipeline.from_pretrained(str(tiny_sdxl))
    with torch.no_grad():
        hidden, added = backbone.encode(encoders, ids, [0, 1], (64, 48))
        for row, prompt in enumerate(["a photo of sks", ""]):
            embeds, _, pooled, _ = pipe.encode_prompt(prompt, device=torch.device("cpu"),
                                                      do_classifier_free_guidance=False)
            torch.testing.assert_close(hidden[row:row + 1], embeds, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(added["text_embeds"][row:row + 1], pooled, rtol=1e-5, atol=1e-6)
        time_ids, _ = pipe._get_add_time_ids((64, 48), (0, 0), (64, 48), 6.0, 2.5, (64, 48), (0, 0), (64, 48),
                                             dtype=torch.float32, text_encoder_projection_dim=32)
    torch.testing.assert_close(added["time_ids"], time_ids.repeat(2, 1))
    assert hidden.shape[-1] == 64  # both encoders' penultimate states, concatenated


def test_sdxl_step_loss_matches_a_per_example_reference(tiny_sdxl):
    from diffusers import DDPMScheduler

    backbone, frozen, models = _sdxl_parts(tiny_sdxl)
    unet = models["unet"].eval()
    encoders = {k: v.eval() for k, v in models.items() if k != "unet"}
    ids = backbone.tokenize(frozen["tokenizers"], ["a photo of sks", ""])
    scheduler = DDPMScheduler.from_pretrained(str(tiny_sdxl), subfolder="scheduler")
    torch.manual_seed(0)
    latents, conditioning, noise = torch.randn(3, 3, 4, 8, 8).unbind(0)
    masks, weightings = (torch.rand(3, 1, 64, 64) > 0.5).float(), (torch.rand(3, 1, 64, 64) > 0.3).float()
    prompt_index, timesteps = torch.tensor([1, 0, 1]), torch.tensor([10, 500, 999])
    with torch.no_grad():
        loss = step_loss(unet, lambda rows: backbone.encode(encoders, ids, rows, (64, 64)), scheduler, prompt_index,
                         latents, conditioning, masks, weightings, noise, timesteps, torch.float32)
        terms = []
        for i in range(3):
            hidden, added = backbone.encode(encoders, ids, [int(prompt_index[i])], (64, 64))
            alpha_bar = scheduler.alphas_cumprod[timesteps[i]]
            noisy = alpha_bar.sqrt() * latents[i] + (1 - alpha_bar).sqrt() * noise[i]
            x = torch.cat([noisy, masks[i, :, ::8, ::8], conditioning[i]])[None]
            pred = unet(x, timesteps[i:i + 1], hidden, added_cond_kwargs=added).sample[0]
            terms.append(weightings[i, :, ::8, ::8] * (pred - noise[i]) ** 2)
    torch.testing.assert_close(loss, torch.stack(terms).mean(), rtol=1e-5, atol=1e-6)


def test_realfill_on_sdxl_trains_and_samples_end_to_end(tiny_sdxl, sample_bench, tmp_path):
    out = tmp_path / "run"
    args = ["evaluate", "--method", "realfill", "--model", str(tiny_sdxl), "--scenes", SCENE, "--samples", "2",
            *FAST, "--out", str(out)]
    assert main(args) == 0
    records = read_record_dicts(out / "records.jsonl")
    assert [r["seed"] for r in records] == [0, 1]
    assert {r["info"]["backbone"] for r in records} == {"sdxl"}
    lora = next((out / "work" / SCENE).glob("lora-*"))
    for part in ("unet", "text_encoder", "text_encoder_2"):  # LoRA on the denoiser and both text encoders
        assert json.loads((lora / part / "adapter_config.json").read_text())["r"] == 8
    train = json.loads((lora / "train.json").read_text())
    assert train["backbone"] == "sdxl" and len(train["losses"]) == 2 and all(np.isfinite(train["losses"]))
    _known_pixels_kept(out, sample_bench)
    first = [read_rgb(out / r["image"]) for r in records]
    assert not np.array_equal(first[0], first[1])  # two seeds, two samples
    # the same seeds on a fresh run folder: the same training and the same images
    again = tmp_path / "again"
    assert main([*args[:-1], str(again)]) == 0
    for record, image in zip(read_record_dicts(again / "records.jsonl"), first):
        np.testing.assert_array_equal(read_rgb(again / record["image"]), image)


def test_sd_inpaint_runs_any_diffusers_inpainting_model(tiny_sdxl, sample_bench, tmp_path):
    out = tmp_path / "sd"
    assert main(["evaluate", "--method", "sd-inpaint", "--model", str(tiny_sdxl), "--scenes", SCENE, "--samples", "2",
                 "--set", "steps=2", "--set", "resolution=64", "--no-progress", "--out", str(out)]) == 0
    assert len(read_record_dicts(out / "records.jsonl")) == 2
    _known_pixels_kept(out, sample_bench)


SDXL_ID = "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"


def test_the_sdxl_hub_id_downloads_and_runs_through_model(tiny_sdxl, sample_bench, internet, tmp_path, monkeypatch,
                                                          capsys):
    """The command a user types for SDXL: a hub id close to a known one is still a hub id."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.delenv("REALBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    internet.add_repo(SDXL_ID, tiny_sdxl)
    assert main(["weights", "download", SDXL_ID]) == 0
    snapshot = resolve(SDXL_ID).path  # (identical files, e.g. the two vocabularies, are one cached blob)
    for rel in ("text_encoder_2/config.json", "tokenizer_2/vocab.json", "tokenizer_2/tokenizer_config.json",
                "unet/config.json"):
        assert (snapshot / rel).is_file(), rel
    out = tmp_path / "run"
    assert main(["evaluate", "--method", "realfill", "--model", SDXL_ID, "--scenes", SCENE, "--samples", "1",
                 *FAST, "--out", str(out)]) == 0, capsys.readouterr().err
    record = read_record_dicts(out / "records.jsonl")[0]
    assert record["info"]["backbone"] == "sdxl" and record["info"]["model"].startswith(f"{SDXL_ID}@")


# ---------------------------------------------------------------------- issue 21: the seam past the UNet

def _old_conditioning(encode, prompt_index):
    """Each example's conditioning as the methods computed it before the seam: the text encoders
    run once per distinct prompt, rows picked per example."""
    present = sorted(set(prompt_index.tolist()))
    hidden, added = encode(present)
    rows = torch.tensor([present.index(p) for p in prompt_index.tolist()])
    return hidden[rows], ({"added_cond_kwargs": {k: v[rows] for k, v in added.items()}} if added else {})


def _old_micro_loss(method, batch, ctx, inpainting: bool):
    """One micro-batch's loss as ``encode_pixels``, ``micro_loss``, ``step_loss`` and
    ``denoising_loss`` computed it before the seam, written out: scaled VAE samples, noise and
    integer timesteps drawn from the training generator in that order, DDPM noising, the 9-channel
    UNet input (4 channels for DreamBooth) and the noise as the target."""
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(int(method.settings.train.seed) + 1)
    pixels = torch.cat([batch.images, batch.conditioning]) if inpainting else batch.images
    z = ctx.vae.encode(pixels).latent_dist.sample(generator=gen).float() * ctx.vae.config.scaling_factor
    latents, conditioning = z.chunk(2) if inpainting else (z, None)
    noise = torch.randn(latents.shape, generator=gen)
    timesteps = torch.randint(0, ctx.noise_scheduler.config.num_train_timesteps, (latents.shape[0],), generator=gen)
    noisy = ctx.noise_scheduler.add_noise(latents, noise, timesteps)
    hidden, kwargs = _old_conditioning(ctx.encode, batch.prompt_index)
    if not inpainting:
        return F.mse_loss(ctx.denoiser(noisy, timesteps, hidden, **kwargs).sample.float(), noise.float())
    masks = F.interpolate(batch.masks, size=latents.shape[2:])
    weightings = F.interpolate(batch.weightings, size=latents.shape[2:])
    pred = ctx.denoiser(torch.cat([noisy, masks, conditioning], dim=1), timesteps, hidden, **kwargs).sample
    return (weightings * F.mse_loss(pred.float(), noise.float(), reduction="none")).mean()


@pytest.mark.parametrize("family", ["sd2", "sdxl", "dreambooth"])
def test_losses_equal_the_formula_before_the_seam_bit_for_bit(family, tiny_sdxl, sample_bench, tmp_path):
    from realbench.methods.dreambooth import DreamBooth
    from realbench.methods.realfill import RealFill

    cls, model = {"sd2": (RealFill, lambda: save_tiny_sd_inpainting(tmp_path / "sd2")),
                  "sdxl": (RealFill, lambda: tiny_sdxl),
                  "dreambooth": (DreamBooth, lambda: save_tiny_sd_text_to_image(tmp_path / "base"))}[family]
    method = cls({"model": str(model()), "train": {"batch_size": 3, "resolution": 64, "seed": 5}})
    models = method._wrap_lora(method._fresh_models())  # eval mode: no LoRA dropout draw
    ctx = method._train_context(models)
    batch = method.make_batches(sample_bench[SCENE]).next()
    with torch.no_grad():
        ours = method.micro_loss(batch, ctx)
        before = _old_micro_loss(method, batch, ctx, inpainting=cls is RealFill)
    assert torch.equal(ours, before), (float(ours), float(before))
    assert ctx.backbone.name == ("sdxl" if family == "sdxl" else "sd2")


def test_v_prediction_trains_on_v():
    from diffusers import DDPMScheduler

    from realbench.methods.backbones import Backbone

    scheduler = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                              prediction_type="v_prediction")
    torch.manual_seed(0)
    x, noise = torch.randn(2, 3, 4, 8, 8).unbind(0)
    t = torch.tensor([10, 700, 999])
    alpha_bar = scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    v = alpha_bar.sqrt() * noise - (1 - alpha_bar).sqrt() * x  # Salimans & Ho's v, by hand
    torch.testing.assert_close(Backbone.target(scheduler, x, noise, t), v)
    assert Backbone.target(DDPMScheduler(), x, noise, t) is noise  # epsilon: the noise itself


@pytest.fixture(scope="module")
def tiny_flux(tmp_path_factory):
    return save_tiny_flux_fill(tmp_path_factory.mktemp("models") / "flux-fill")


def _flux_parts(path):
    backbone = backbone_for(path, torch.device("cpu"))
    frozen, models = backbone.load_frozen(), backbone.load_trainable()
    encoders = {"text_encoder": models["text_encoder"].eval()}
    ids = backbone.tokenize(frozen["tokenizers"], ["a photo of sks", ""])
    return backbone, frozen, models["transformer"].eval(), encoders, ids


def _pixels(image, mask):
    """The pipeline's preprocessing by hand: [-1, 1] pixels, and the mask binarised at 0.5."""
    pixels = torch.from_numpy(np.asarray(image).astype(np.float32) / 255.0).permute(2, 0, 1)[None] * 2.0 - 1.0
    return pixels, torch.from_numpy((np.asarray(mask).astype(np.float32) / 255.0 >= 0.5).astype(np.float32))[None, None]


def test_flux_fill_conditioning_and_transformer_inputs_equal_the_diffusers_pipeline(tiny_flux, monkeypatch):
    from diffusers import FluxFillPipeline
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
    from PIL import Image

    from realbench.methods.backbones.flux_fill import unpack_latents

    backbone, frozen, transformer, encoders, ids = _flux_parts(tiny_flux)
    pipe = FluxFillPipeline.from_pretrained(str(tiny_flux))
    with torch.no_grad():
        hidden, extra = backbone.encode(encoders, ids, [0, 1], (64, 48))
        for row, prompt in enumerate(["a photo of sks", ""]):
            embeds, pooled, text_ids = pipe.encode_prompt(prompt, prompt_2=None, device=torch.device("cpu"))
            torch.testing.assert_close(hidden[row:row + 1], embeds, rtol=0, atol=0)
            torch.testing.assert_close(extra["pooled_projections"][row:row + 1], pooled, rtol=0, atol=0)
    # the transformer's inputs in a pipeline call, against the backbone's for the same image and mask
    monkeypatch.setattr(DiagonalGaussianDistribution, "sample", lambda self, generator=None: self.mean)
    seen = {}
    forward = pipe.transformer.forward

    def spy(**kwargs):
        seen.update(kwargs)
        return forward(**kwargs)

    monkeypatch.setattr(pipe.transformer, "forward", spy)
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8))
    hole = np.zeros((64, 48), np.uint8)
    hole[10:40, 5:30] = 255
    pipe(prompt="a photo of sks", image=image, mask_image=Image.fromarray(hole), height=64, width=48,
         num_inference_steps=1, generator=torch.Generator().manual_seed(3), output_type="np",
         **backbone.pipeline_kwargs(1.0))
    pixels, masks = _pixels(image, hole)
    with torch.no_grad():
        masked_latents = backbone.encode_latents(frozen["vae"], pixels * (masks < 0.5), None)  # as training encodes
        noisy = torch.randn((1, 4, 8, 6), generator=torch.Generator().manual_seed(3))  # pure noise at sigma = 1
        pooled = {"pooled_projections": extra["pooled_projections"][:1]}
        ours = backbone.denoiser_inputs(transformer.config, noisy, backbone.mask_latents(masks, noisy), masked_latents,
                                        torch.tensor([1000.0]), hidden[:1], pooled)
    assert seen["hidden_states"].shape == (1, 12, 16 + 16 + 256)  # 4 x 3 tokens: latents, masked latents, mask
    for key in ("timestep", "guidance", "pooled_projections", "encoder_hidden_states", "txt_ids", "img_ids"):
        torch.testing.assert_close(ours[key], seen[key], rtol=0, atol=0, msg=key)
    for part, exact in ((slice(0, 16), True), (slice(16, 32), False), (slice(32, None), True)):
        # the masked-image latents to rounding: the VAE's convolutions pick kernels by memory layout
        # (the pipeline's image is channels-last), so they agree to about 1e-6, not bit for bit
        tolerance = 0 if exact else 1e-5
        torch.testing.assert_close(ours["hidden_states"][..., part], seen["hidden_states"][..., part],
                                   rtol=tolerance, atol=tolerance)
    assert float(ours["guidance"][0]) == 30.0  # FLUX.1 Fill's distilled guidance, as its pipeline feeds it
    tokens = torch.randn(2, 12, 16)
    torch.testing.assert_close(unpack_latents(tokens, 8, 6), FluxFillPipeline._unpack_latents(tokens, 64, 48, 8))


def test_flux_fill_loss_is_flow_matching_per_example(tiny_flux):
    from realbench.methods.realfill_data import step_loss

    backbone, frozen, transformer, encoders, ids = _flux_parts(tiny_flux)
    scheduler = frozen["noise_scheduler"]
    torch.manual_seed(0)
    latents, conditioning, noise = torch.randn(3, 2, 4, 8, 8).unbind(0)
    masks, weightings = (torch.rand(2, 1, 64, 64) > 0.5).float(), (torch.rand(2, 1, 64, 64) > 0.3).float()
    prompt_index, timesteps = torch.tensor([1, 0]), scheduler.timesteps[[10, 900]]
    with torch.no_grad():
        loss = step_loss(transformer, lambda rows: backbone.encode(encoders, ids, rows, (64, 64)), scheduler,
                         prompt_index, latents, conditioning, masks, weightings, noise, timesteps, torch.float32,
                         backbone)
        terms = []
        for i in range(2):
            sigma = timesteps[i] / 1000  # the flow's time on FLUX's (dynamically shifted, so plain) training schedule
            noisy = (1 - sigma) * latents[i:i + 1] + sigma * noise[i:i + 1]
            hidden, extra = backbone.encode(encoders, ids, [int(prompt_index[i])], (64, 64))
            pred = backbone.predict(transformer, noisy, backbone.mask_latents(masks[i:i + 1], noisy),
                                    conditioning[i:i + 1], timesteps[i:i + 1], hidden, extra)[0]
            terms.append(weightings[i, :, ::8, ::8] * (pred - (noise[i] - latents[i])) ** 2)  # velocity target
    torch.testing.assert_close(loss, torch.stack(terms).mean(), rtol=1e-5, atol=1e-6)
    # timesteps are drawn uniformly from the training schedule (the FLUX script's weighting "none")
    _, drawn = backbone.draw_noise(scheduler, torch.zeros(2000, 1, 2, 2), torch.Generator().manual_seed(0))
    assert set(drawn.tolist()) <= set(scheduler.timesteps.tolist())
    assert abs(float(drawn.mean()) / 1000 - 0.5) < 0.03 and drawn.min() < 50 and drawn.max() > 950


def test_realfill_on_flux_fill_trains_two_steps_and_samples_end_to_end(tiny_flux, sample_bench, tmp_path):
    from realbench.methods.realfill import RealFill

    config = {"model": str(tiny_flux), "train": {"steps": 2, "batch_size": 2, "resolution": 64},
              "sample": {"steps": 2, "batch": 2}}
    out = tmp_path / "run"
    run = evaluate("realfill", sample_bench, scenes=[SCENE], samples=2, metrics="psnr", select=False,
                   method_config=config, out=out, progress=False)
    records = read_record_dicts(out / "records.jsonl")
    assert [r["seed"] for r in records] == [0, 1] and run.records()["psnr"].notna().all()
    info = records[0]["info"]
    assert (info["backbone"], info["scheduler"], info["guidance_embedding"]) == (
        "flux-fill", "FlowMatchEulerDiscreteScheduler", 30.0)
    lora = next((out / "work" / SCENE).glob("lora-*"))
    for part in ("transformer", "text_encoder"):  # LoRA on the transformer and CLIP; T5 stays frozen
        assert json.loads((lora / part / "adapter_config.json").read_text())["r"] == 8
    assert not (lora / "text_encoder_2").exists()
    train = json.loads((lora / "train.json").read_text())
    assert train["backbone"] == "flux-fill" and len(train["losses"]) == 2 and all(np.isfinite(train["losses"]))
    _known_pixels_kept(out, sample_bench)
    images = [read_rgb(out / r["image"]) for r in records]
    assert not np.array_equal(images[0], images[1])
    method = RealFill(config)  # the saved LoRA again: the same samples inside the hole
    method.prepare(sample_bench[SCENE], out / "work" / SCENE)
    scene = sample_bench[SCENE]
    inside = scene.mask & ~feather_band(scene.mask, 1)
    for output, image in zip(method.generate(scene, [0, 1]), images):
        np.testing.assert_array_equal(output.image[inside], image[inside])


def test_flux_fill_settings_it_cannot_honour_are_one_error(tiny_flux, tmp_path):
    import shutil

    from realbench.methods.realfill import RealFill

    def build(**groups):
        return RealFill({"model": str(tiny_flux), **groups})

    with pytest.raises(RealBenchError, match="no classifier-free guidance"):
        build(sample={"guidance": 3.0})
    with pytest.raises(RealBenchError, match="sample.scheduler=ddim is not a sampler of flux-fill models.*flow-euler"):
        build(sample={"scheduler": "ddim"})
    with pytest.raises(RealBenchError, match="train.resolution=72: flux-fill models take sides that are multiples "
                                             "of 16"):
        build(train={"resolution": 72})
    assert build().sampler == "flow-euler" and build(sample={"scheduler": "flow-euler"}).sampler == "flow-euler"
    with pytest.raises(RealBenchError, match="is not a sampler of sd2 models"):
        RealFill({"model": str(save_tiny_sd_inpainting(tmp_path / "sd2")), "sample": {"scheduler": "flow-euler"}})
    other = shutil.copytree(tiny_flux, tmp_path / "flux-dev")  # a text-to-image FLUX transformer: 16 channels in
    config = json.loads((other / "transformer" / "config.json").read_text())
    (other / "transformer" / "config.json").write_text(json.dumps({**config, "in_channels": 16}))
    with pytest.raises(RealBenchError, match="takes packed latents, masked-image latents and mask \\(288 input "
                                             "channels\\); this one takes 16"):
        RealFill({"model": str(other)})
