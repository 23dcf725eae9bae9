"""DreamBooth (RealFill Fig. 10): realfill's fine-tune of a text-to-image model on the references,
then diffusers' 4-channel inpainting. The blend is checked against the algorithm written out by
hand (Lugmayr et al.'s RePaint-style known-latent replacement, as diffusers documents it), and a
tiny random SD2-base-style model trains and samples end to end through ``realbench.evaluate``."""
import json

import numpy as np
import pytest
import torch
from conftest import photo
from tiny_diffusion import save_tiny_sd_inpainting, save_tiny_sd_text_to_image

from realbench import RealBenchError, evaluate
from realbench.cli import main
from realbench.core.compositing import feather_band
from realbench.core.imageio import read_rgb
from realbench.core.scene import Scene
from realbench.methods.diffusion import from_pipeline, pipeline_inputs
from realbench.methods.dreambooth import DreamBooth
from realbench.methods.realfill import RealFill
from realbench.run.records import read_record_dicts

SCENE = "chelsea-defocus"
FAST = {"train": {"steps": 2, "batch_size": 2, "resolution": 64, "checkpoint_every": 1000},
        "sample": {"steps": 4, "batch": 2}}
MASK_SETTINGS = ("full_mask_prob", "complement_prob", "max_rectangles")


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return save_tiny_sd_text_to_image(tmp_path_factory.mktemp("models") / "sd2-base")


def _config(model, **sample):
    return {"model": str(model), "train": FAST["train"], "sample": {**FAST["sample"], **sample}}


def _small_scene() -> Scene:
    """64 x 64, the working size at train.resolution=64: nothing is resized on the way."""
    gt = photo(64, 64, 1)
    mask = np.zeros((64, 64), bool)
    mask[16:44, 20:52] = True
    target = gt.copy()
    target[mask] = 255
    return Scene("small", "inpaint", (photo(64, 64, 2), photo(72, 64, 3)), target, mask, gt)


def lugmayr_inpaint(pipe, target, mask, prompt, steps, strength, seed):
    """Diffusers' 4-channel inpainting written out: encode the image, start from pure noise (or
    from the image noised to the first kept timestep when strength < 1), and after every DDPM step
    replace the known latents by the image's latents noised to the next timestep (un-noised after
    the last). The generator is drawn as the pipeline draws it: image latents, noise, the
    masked image's latents (which a 4-channel UNet never uses), then each step's variance."""
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    scheduler.set_timesteps(steps)
    kept = min(int(steps * strength), steps)
    timesteps = scheduler.timesteps[steps - kept:]
    gen = torch.Generator().manual_seed(seed)
    image = torch.from_numpy(2.0 * (np.asarray(target).astype(np.float32) / 255.0) - 1.0).permute(2, 0, 1)[None]
    hole = torch.from_numpy((np.asarray(mask).astype(np.float32) / 255.0 >= 0.5).astype(np.float32))[None, None]
    h, w = image.shape[2:]
    hole_latent = torch.nn.functional.interpolate(hole, size=(h // 8, w // 8))
    scale = pipe.vae.config.scaling_factor
    with torch.no_grad():
        image_latents = pipe.vae.encode(image).latent_dist.sample(generator=gen) * scale
        noise = torch.randn(image_latents.shape, generator=gen)
        pipe.vae.encode(image * (hole < 0.5)).latent_dist.sample(generator=gen)
        latents = noise if kept == steps else scheduler.add_noise(image_latents, noise, timesteps[:1])
        ids = pipe.tokenizer([prompt], padding="max_length", max_length=pipe.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids
        hidden = pipe.text_encoder(ids)[0]
        for i, t in enumerate(timesteps):
            pred = pipe.unet(latents, t, encoder_hidden_states=hidden).sample
            latents = scheduler.step(pred, t, latents, generator=gen).prev_sample
            known = (image_latents if i == len(timesteps) - 1
                     else scheduler.add_noise(image_latents, noise, timesteps[i + 1:i + 2]))
            latents = (1 - hole_latent) * known + hole_latent * latents
        decoded = pipe.vae.decode(latents / scale).sample
    return (decoded / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy(), hole_latent


@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_sampling_is_the_known_latent_blend_of_diffusers_4_channel_path(tiny_base, tmp_path, strength):
    method = DreamBooth(_config(tiny_base, strength=strength))
    scene = _small_scene()
    method.prepare(scene, tmp_path)
    assert method._pipe.unet.config.in_channels == 4
    ours = method.generate(scene, [7])[0]
    target, mask, _ = pipeline_inputs(scene, method.feather, 64)
    reference, hole = lugmayr_inpaint(method._pipe, target, mask, "a photo of sks", 4, strength, 7)
    assert 0 < hole.mean() < 1  # some latents are known, some are generated
    expected = from_pipeline(reference, scene.size)[0]
    diff = np.abs(ours.image.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())
    assert ours.info["strength"] == strength and ours.info["denoising_steps"] == int(4 * strength)


def test_dreambooth_trains_on_the_references_and_samples_end_to_end(tiny_base, sample_bench, tmp_path):
    out = tmp_path / "run"
    run = evaluate("dreambooth", sample_bench, scenes=[SCENE], samples=2, metrics="psnr", select=False,
                   method_config=_config(tiny_base, strength=0.8), out=out, progress=False)
    records = read_record_dicts(out / "records.jsonl")
    assert [r["seed"] for r in records] == [0, 1] and run.records()["psnr"].notna().all()
    info = records[0]["info"]
    assert (info["backbone"], info["strength"], info["denoising_steps"], info["steps"]) == ("sd2", 0.8, 3, 4)
    assert info["compute"]["train_steps"] == 2 and info["compute"]["peak_memory_bytes"] is None
    lora = next((out / "work" / SCENE).glob("lora-*"))
    for part in ("unet", "text_encoder"):
        assert json.loads((lora / part / "adapter_config.json").read_text())["r"] == 8
    train = json.loads((lora / "train.json").read_text())
    assert len(train["losses"]) == 2 and np.isfinite(train["losses"]).all()
    scene = sample_bench[SCENE]
    for record in records:  # composited as the other diffusion methods
        image = read_rgb(out / record["image"])
        outside = ~scene.mask & ~feather_band(scene.mask, 1)
        np.testing.assert_array_equal(image[outside], scene.target[outside])
    batch = DreamBooth(_config(tiny_base)).make_batches(scene)
    assert len(batch.images) == len(scene.refs)  # the references only: the target is never trained on
    drawn = batch.next()
    assert drawn.masks is None and drawn.images.shape == (2, 3, 64, 64)


def test_same_fine_tune_defaults_as_realfill_and_the_cli_says_so(capsys):
    realfill, dreambooth = RealFill.default_config, DreamBooth.default_config
    assert dreambooth["train"] == {k: v for k, v in realfill["train"].items() if k not in MASK_SETTINGS}
    assert dreambooth["prompt"] == realfill["prompt"] == "a photo of sks"
    assert {k: v for k, v in dreambooth["sample"].items() if k != "strength"} == realfill["sample"]
    assert dreambooth["model"] == "stabilityai/stable-diffusion-2-base" and dreambooth["sample"]["strength"] == 1.0
    assert main(["methods", "dreambooth"]) == 0
    out = capsys.readouterr().out
    assert "only the base model and the objective differ from realfill" in out
    assert "sample.strength" in out and "train.grad_accum" in out and "full_mask_prob" not in out


def test_an_inpainting_model_is_refused_when_the_method_is_built(tmp_path, capsys):
    inpainting = save_tiny_sd_inpainting(tmp_path / "sd2-inpainting")
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["evaluate", "--method", "dreambooth", "--model", str(inpainting), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(inpainting) in err and "text-to-image" in err
    assert not out.exists()


def test_blank_canvas_is_generation_only_and_ignores_the_target(tiny_base, tmp_path):
    method = DreamBooth(_config(tiny_base, canvas="blank"))
    assert method.generation_only and not method.composites
    assert not DreamBooth(_config(tiny_base)).generation_only
    scene = _small_scene()
    method.prepare(scene, tmp_path)
    other = Scene(scene.id, scene.task, scene.refs, 255 - scene.target, scene.mask, scene.gt)
    a, b = method.generate(scene, [3])[0], method.generate(other, [3])[0]
    np.testing.assert_array_equal(a.image, b.image)  # every pixel generated: nothing of the target kept
    assert a.info["canvas"] == "blank"
    with pytest.raises(RealBenchError, match="sample.strength must be 1"):
        DreamBooth(_config(tiny_base, canvas="blank", strength=0.5))


def test_realfill_refuses_a_text_to_image_model_and_a_4_channel_unet(tiny_base, tmp_path):
    with pytest.raises(RealBenchError, match="a text-to-image model, but realfill fine-tunes an inpainting model.*"
                                             "--method dreambooth takes this one"):
        RealFill({"model": str(tiny_base)})
    import shutil

    relabelled = shutil.copytree(tiny_base, tmp_path / "relabelled")  # says inpainting, has a 4-channel UNet
    index = json.loads((relabelled / "model_index.json").read_text())
    (relabelled / "model_index.json").write_text(json.dumps({**index, "_class_name": "StableDiffusionInpaintPipeline"}))
    with pytest.raises(RealBenchError, match="UNet takes 9 input channels; this one takes 4"):
        RealFill({"model": str(relabelled)})
