"""RealFill's base-model seam: SD2 and SDXL inpainting backbones, picked from model_index.json.

The SDXL conditioning is checked against diffusers' own SDXL inpainting pipeline (its
``encode_prompt`` and ``_get_add_time_ids``), the SDXL loss against a per-example computation, and a
tiny random SDXL inpainting model is fine-tuned for two steps and sampled end to end through
``--model``, as a user would; ``sd-inpaint`` runs it too (``AutoPipelineForInpainting``)."""
import json

import numpy as np
import pytest
import torch
from tiny_diffusion import save_tiny_sd_inpainting, save_tiny_sdxl_inpainting

from realbench import RealBenchError
from realbench.cli import main
from realbench.compositing import feather_band
from realbench.imageio import read_rgb
from realbench.methods.backbones import BACKBONES, backbone_for
from realbench.methods.realfill_data import step_loss
from realbench.records import read_record_dicts
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
    with pytest.raises(RealBenchError, match="no backbone for 'StableDiffusion3InpaintPipeline'.*StableDiffusionXLInpaintPipeline"):
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
                 "--set", "steps=2", "--no-progress", "--out", str(out)]) == 0
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
