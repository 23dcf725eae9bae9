"""RealFill, SD inpainting and Paint-by-Example on tiny random models loaded through --model."""
import json

import numpy as np
import pytest
import torch
from tiny_diffusion import save_tiny_paint_by_example, save_tiny_sd_inpainting

from realbench import RealBenchError, evaluate
from realbench.cli import main
from realbench.core.compositing import feather_band
from realbench.core.imageio import read_rgb
from realbench.run.records import read_record_dicts

SCENE = "chelsea-defocus"
FAST_TRAIN = {"train": {"steps": 2, "batch_size": 4, "resolution": 64, "checkpoint_every": 1000},
              "sample": {"steps": 2, "batch": 2}}


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return save_tiny_sd_inpainting(tmp_path_factory.mktemp("models") / "sd2-inpainting")


@pytest.fixture(scope="module")
def tiny_pbe(tmp_path_factory):
    return save_tiny_paint_by_example(tmp_path_factory.mktemp("models") / "paint-by-example")


def _check_known_pixels(out, bench, feather):
    for record in read_record_dicts(out / "records.jsonl"):
        scene = bench[record["scene"]]
        image = read_rgb(out / record["image"])
        outside = ~scene.mask & ~feather_band(scene.mask, feather)
        np.testing.assert_array_equal(image[outside], scene.target[outside])
        assert record["info"]["safety_checker"] is None


def test_realfill_end_to_end_through_the_cli(tiny_sd, sample_bench, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["evaluate", "--method", "realfill", "--model", str(tiny_sd), "--scenes", SCENE, "--samples", "2",
            "--set", "train.steps=2", "--set", "train.batch_size=4", "--set", "train.resolution=64",
            "--set", "sample.steps=2", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    records = read_record_dicts(out / "records.jsonl")
    assert [r["seed"] for r in records] == [0, 1]
    assert records[0]["info"]["scheduler"] == "DDPMScheduler" and records[0]["info"]["lora"].startswith("lora-")
    # the default sample.dtype is fp16, but the CPU computes in float32 and the record says so
    assert (records[0]["info"]["device"], records[0]["info"]["dtype"]) == ("cpu", "float32")
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["train"]["lora_rank"] == 8 and meta["config"]["sample"]["guidance"] == 1.0
    lora = next((out / "work" / SCENE).glob("lora-*"))
    for part in ("unet", "text_encoder"):
        assert (lora / part / "adapter_model.safetensors").is_file()
        assert json.loads((lora / part / "adapter_config.json").read_text())["r"] == 8
    train_info = json.loads((lora / "train.json").read_text())
    assert len(train_info["losses"]) == 2 and train_info["compute_dtype"] == "float32"
    _check_known_pixels(out, sample_bench, feather=1)
    # a rerun reuses the LoRA and the records: no training, no sampling
    mtime = (lora / "unet" / "adapter_model.safetensors").stat().st_mtime_ns
    assert main(args) == 0
    assert (lora / "unet" / "adapter_model.safetensors").stat().st_mtime_ns == mtime
    assert len(read_record_dicts(out / "records.jsonl")) == 2


def test_sd_inpaint_end_to_end_with_prompts(tiny_sd, sample_bench, tmp_path):
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({SCENE: "a photo of a cat"}))
    out = tmp_path / "run"
    assert main(["evaluate", "--method", "sd-inpaint", "--model", str(tiny_sd), "--scenes", f"{SCENE},rocket-style",
                 "--samples", "2", "--set", "steps=2", "--set", "resolution=64", "--prompts", str(prompts),
                 "--no-progress", "--out", str(out)]) == 0
    info = {r["scene"]: r["info"] for r in read_record_dicts(out / "records.jsonl")}
    assert info[SCENE]["prompt"] == "a photo of a cat" and info[SCENE]["prompt_source"] == "prompts file"
    assert info["rocket-style"]["prompt_source"] == "generic default"
    assert (info[SCENE]["device"], info[SCENE]["dtype"]) == ("cpu", "float32")
    _check_known_pixels(out, sample_bench, feather=1)


def test_paint_by_example_loads_hub_layout_and_records_reference(tiny_pbe, sample_bench, tmp_path):
    index = json.loads((tiny_pbe / "model_index.json").read_text())
    assert index["image_encoder"] == ["paint_by_example", "PaintByExampleImageEncoder"]  # the hub's entry
    out = tmp_path / "run"
    assert main(["evaluate", "--method", "paint-by-example", "--model", str(tiny_pbe), "--scenes", SCENE,
                 "--samples", "4", "--set", "steps=2", "--set", "resolution=64", "--no-progress",
                 "--out", str(out)]) == 0
    records = read_record_dicts(out / "records.jsonl")
    from realbench.methods.paint_by_example import PaintByExample

    refs = len(sample_bench[SCENE].refs)
    assert [r["info"]["reference_index"] for r in records] == [
        PaintByExample.reference_index(r["seed"], refs) for r in records]
    assert len({r["info"]["reference_index"] for r in records}) > 1
    _check_known_pixels(out, sample_bench, feather=1)


def test_saved_lora_reloads_to_identical_samples_and_same_seed_same_images(tiny_sd, sample_bench, tmp_path):
    from realbench.methods.realfill import RealFill

    scene = sample_bench[SCENE]
    config = {"model": str(tiny_sd), **FAST_TRAIN}
    first = RealFill(config)
    first.prepare(scene, tmp_path)  # trains and saves
    a = [o.image for o in first.generate(scene, [5, 6])]
    again = [o.image for o in first.generate(scene, [5, 6])]
    second = RealFill(config)
    second.prepare(scene, tmp_path)  # loads the saved LoRA
    b = [o.image for o in second.generate(scene, [5, 6])]
    for x, y, z in zip(a, again, b):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    assert not np.array_equal(a[0], a[1])  # different seeds differ


def test_training_resumes_from_a_checkpoint_to_the_same_lora(tiny_sd, sample_bench, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    import realbench.methods.realfill as realfill_module
    from realbench.methods.realfill import RealFill

    scene = sample_bench[SCENE]
    config = {"model": str(tiny_sd), "train": {**FAST_TRAIN["train"], "steps": 4, "checkpoint_every": 2},
              "sample": FAST_TRAIN["sample"]}
    RealFill(config).prepare(scene, tmp_path / "straight")

    calls = {"n": 0}
    real_loss = realfill_module.step_loss

    def failing_loss(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed during step 3, after the step-2 checkpoint
        return real_loss(*args)

    monkeypatch.setattr(realfill_module, "step_loss", failing_loss)
    with pytest.raises(KeyboardInterrupt):
        RealFill(config).prepare(scene, tmp_path / "resumed")
    assert list((tmp_path / "resumed").glob("checkpoint-*/state.safetensors"))  # no pickle in a run folder
    assert list((tmp_path / "resumed").glob("checkpoint-*/state.json"))
    monkeypatch.setattr(realfill_module, "step_loss", real_loss)
    RealFill(config).prepare(scene, tmp_path / "resumed")
    assert not list((tmp_path / "resumed").glob("checkpoint-*"))
    for part in ("unet", "text_encoder"):
        straight = load_file(str(next((tmp_path / "straight").glob("lora-*")) / part / "adapter_model.safetensors"))
        resumed = load_file(str(next((tmp_path / "resumed").glob("lora-*")) / part / "adapter_model.safetensors"))
        assert straight.keys() == resumed.keys()
        for key in straight:
            torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0)


def test_missing_base_model_is_one_clear_error(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    assert main(["evaluate", "--method", "realfill", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stabilityai/stable-diffusion-2-inpainting" in err
    assert "realbench weights download stabilityai/stable-diffusion-2-inpainting" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(RealBenchError, match="neither an existing folder nor a hub id"):
        evaluate("sd-inpaint", method_config={"model": "not-a-model"}, progress=False)


def test_unknown_precision_is_one_clear_error_before_any_work(tiny_sd, tmp_path, capsys):
    with pytest.raises(RealBenchError, match="dtype='fp8' is not a precision"):
        evaluate("sd-inpaint", method_config={"model": str(tiny_sd), "dtype": "fp8"}, progress=False)
    out = tmp_path / "out"
    assert main(["evaluate", "--method", "realfill", "--model", str(tiny_sd), "--set", "train.mixed_precision=half",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "train.mixed_precision='half' is not a precision" in err
    assert not out.exists()


def test_half_precision_paths_run_and_leave_the_shared_vae_float32(tiny_sd, tmp_path, monkeypatch):
    """GPU-only code on the CPU: fp16 mixed-precision training (autocast + gradient scaler) and
    bf16 sampling. Sampling scene 1 must not cast the VAE that scene 2's training shares. The CPU
    never computes in half precision by choice, so the test pretends it does."""
    import realbench.methods.realfill as realfill
    from realbench.methods.diffusion import DTYPE_NAMES

    monkeypatch.setattr(realfill, "pick_dtype", lambda name, device: getattr(torch, DTYPE_NAMES[str(name)]))
    config = {"model": str(tiny_sd), "train": {**FAST_TRAIN["train"], "mixed_precision": "fp16"},
              "sample": {"steps": 2, "batch": 2, "dtype": "bf16"}}
    out = tmp_path / "run"
    evaluate("realfill", method_config=config, scenes=[SCENE, "rocket-style"], samples=1, out=out, progress=False)
    records = read_record_dicts(out / "records.jsonl")
    assert sorted(r["scene"] for r in records) == sorted([SCENE, "rocket-style"])
    assert {r["info"]["dtype"] for r in records} == {"bfloat16"}
    for train_json in out.glob("work/*/lora-*/train.json"):
        info = json.loads(train_json.read_text())
        assert info["compute_dtype"] == "float16" and np.isfinite(info["losses"]).all()
    assert len(list(out.glob("work/*/lora-*/train.json"))) == 2


@pytest.fixture(scope="module")
def odd_sizes(tmp_path_factory):
    """A 1024x1024 scene (as in the release) and a small non-square one."""
    from conftest import make_scene

    root = tmp_path_factory.mktemp("odd")
    make_scene(root, "big", size=(1024, 1024), hole="inpaint")
    make_scene(root, "wide", size=(48, 80), hole="outpaint", seed=3)
    return root


def _expected_size(h, w, short):
    """Shorter side to ``short``, aspect kept, each side rounded to a multiple of 8 (by hand)."""
    scale = short / min(h, w)
    return int(round(h * scale / 8)) * 8, int(round(w * scale / 8)) * 8


@pytest.mark.parametrize("method", ["sd-inpaint", "paint-by-example", "realfill"])
def test_generation_runs_at_the_working_resolution_and_comes_back_at_scene_size(
        method, odd_sizes, tiny_sd, tiny_pbe, tmp_path, monkeypatch):
    import realbench.methods.diffusion as diffusion

    seen = []
    real = diffusion.from_pipeline

    def spy(images, size):
        seen.append((images.shape[1:3], size))
        return real(images, size)

    for module in ("realbench.methods.sd_inpaint", "realbench.methods.paint_by_example", "realbench.methods.realfill"):
        monkeypatch.setattr(f"{module}.from_pipeline", spy)
    model = tiny_pbe if method == "paint-by-example" else tiny_sd
    config = ({"model": str(model), **FAST_TRAIN} if method == "realfill"
              else {"model": str(model), "steps": 2, "batch": 2, "resolution": 64})
    out = tmp_path / "run"
    evaluate(method, odd_sizes, method_config=config, samples=1, out=out, progress=False)
    records = {r["scene"]: r for r in read_record_dicts(out / "records.jsonl")}
    for scene_id, (h, w) in {"big": (1024, 1024), "wide": (48, 80)}.items():
        eh, ew = _expected_size(h, w, 64)
        assert records[scene_id]["info"]["resolution"] == [ew, eh]
        assert ((eh, ew), (h, w)) in seen  # generated at the working size, resized back to the scene's
        assert read_rgb(out / records[scene_id]["image"]).shape == (h, w, 3)


def test_resolution_must_be_a_multiple_of_8(tiny_sd):
    with pytest.raises(RealBenchError, match="multiple of 8"):
        evaluate("sd-inpaint", method_config={"model": str(tiny_sd), "resolution": 500}, progress=False)
    with pytest.raises(RealBenchError, match="sample.resolution"):
        evaluate("realfill", method_config={"model": str(tiny_sd), "sample": {"resolution": "big"}}, progress=False)


def test_an_extended_run_makes_the_images_of_a_run_made_in_one_go(tiny_sd, sample_bench, tmp_path):
    """Batches are index-aligned blocks (0-3, 4-7), so `--samples 8` after `--samples 3` generates
    samples 4-7 in the batch a run made in one go does, and so, bit for bit, the same images."""
    config = {"model": str(tiny_sd), "steps": 2, "batch": 4, "resolution": 64}
    common = dict(scenes=[SCENE], metrics="none", select=False, method_config=config, progress=False)
    evaluate("sd-inpaint", sample_bench, samples=8, out=tmp_path / "once", **common)
    evaluate("sd-inpaint", sample_bench, samples=3, out=tmp_path / "twice", **common)
    evaluate("sd-inpaint", sample_bench, samples=8, out=tmp_path / "twice", **common)
    for index in (4, 5, 6, 7):  # 0-2 were a batch of three in the first run
        name = f"images/{SCENE}/{index:03d}.png"
        np.testing.assert_array_equal(read_rgb(tmp_path / "once" / name), read_rgb(tmp_path / "twice" / name))


# ---------------------------------------------------------------------- issue 20: fitting the GPU people have

def test_gradient_accumulation_equals_the_big_batch(tiny_sd, sample_bench, tmp_path, monkeypatch):
    """batch 2 x grad_accum 2: the first optimiser step's gradient equals that of one batch of 4 made
    of the same examples, masks, latents, noise and timesteps (LoRA dropout off: no other draw)."""
    import realbench.methods.realfill as realfill_module
    from realbench.methods.realfill import RealFill
    from realbench.methods.realfill_data import RealFillBatches

    scene = sample_bench[SCENE]
    train = {"steps": 1, "batch_size": 2, "grad_accum": 2, "resolution": 64, "lora_dropout": 0.0}
    method = RealFill({"model": str(tiny_sd), "train": train, "sample": {"steps": 1}})
    draws, seen = [], {}
    real_loss = realfill_module.step_loss

    def recording_loss(*args):
        draws.append(args)
        return real_loss(*args)

    def recording_clip(params, max_norm):
        seen["accumulated"] = [p.grad.detach().clone() for p in params]
        return torch.tensor(0.0)

    monkeypatch.setattr(realfill_module, "step_loss", recording_loss)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording_clip)
    method.train(scene, method._wrap_lora(method._fresh_models()), tmp_path / "lora", tmp_path / "ckpt")
    assert len(draws) == 2  # two micro-batches, one optimiser step
    big = RealFillBatches(scene.refs, scene.target, ~scene.mask, 64, 4, 0).next()  # the data a batch of 4 draws
    torch.testing.assert_close(torch.cat([d[6] for d in draws]), big.masks, rtol=0, atol=0)

    models = method._wrap_lora(method._fresh_models())  # the same initialisation, seeded
    for model in models.values():
        model.train()
    base = method._load_base()
    backbone, encoders = base["backbone"], {k: v for k, v in models.items() if k != "unet"}
    ids = backbone.tokenize(base["tokenizers"], ["a photo of sks", ""])
    joined = [torch.cat([d[i] for d in draws]) for i in range(3, 10)]
    real_loss(models["unet"], lambda rows: backbone.encode(encoders, ids, rows, (64, 64)), base["noise_scheduler"],
              *joined, torch.float32).backward()
    params = [p for m in models.values() for p in m.parameters() if p.requires_grad]
    assert len(params) == len(seen["accumulated"]) and any(g.abs().max() > 0 for g in seen["accumulated"])
    for accumulated, param in zip(seen["accumulated"], params):
        torch.testing.assert_close(accumulated, param.grad, rtol=1e-4, atol=1e-7)


def _oom(*args):
    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity "
                                      "of 15.77 GiB of which 1.02 GiB is free.")


def test_out_of_memory_is_one_error_with_advice_and_the_rerun_resumes(tiny_sd, sample_bench, tmp_path, monkeypatch,
                                                                      capsys):
    import realbench.methods.realfill as realfill_module
    from realbench.methods.realfill import RealFill

    out = tmp_path / "run"
    args = ["evaluate", "--method", "realfill", "--model", str(tiny_sd), "--scenes", SCENE, "--samples", "2",
            "--set", "train.steps=4", "--set", "train.checkpoint_every=2", "--set", "train.batch_size=4",
            "--set", "train.resolution=64", "--set", "sample.steps=2", "--metrics", "none", "--no-progress",
            "--out", str(out)]
    calls = {"n": 0, "fail_at": 3}
    real_loss = realfill_module.step_loss

    def loss_then_oom(*loss_args):  # killed for memory during step 3, after the step-2 checkpoint
        calls["n"] += 1
        return _oom() if calls["n"] == calls["fail_at"] else real_loss(*loss_args)

    monkeypatch.setattr(realfill_module, "step_loss", loss_then_oom)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    err = err[err.index("error: "):]  # after the progress bars of model loading
    assert err.count("\n") == 1 and err.startswith(f"error: scene '{SCENE}': out of GPU memory during training step 3")
    for part in ("tried to allocate 2.00 GiB", "--set train.batch_size=2 --set train.grad_accum=2",
                 "train.gradient_checkpointing=true", "train.mixed_precision=bf16", "sample.batch=2",
                 "the checkpoint of step 2 is kept"):
        assert part in err, part
    method = RealFill({"model": str(tiny_sd), "train": {"steps": 4, "checkpoint_every": 2, "batch_size": 4,
                                                        "resolution": 64}, "sample": {"steps": 2}})
    work = out / "work" / SCENE
    assert method.work_estimate(sample_bench[SCENE], work)["train_steps"] == 2  # the checkpoint is kept
    calls.update(n=0, fail_at=None)
    assert main(args) == 0  # the same command again resumes: steps 3 and 4 only
    assert calls["n"] == 2 and len(read_record_dicts(out / "records.jsonl")) == 2
    assert method.work_estimate(sample_bench[SCENE], work)["train_steps"] == 0
    method.prepare(sample_bench[SCENE], work)  # the fitted LoRA: sampling runs out of memory now
    monkeypatch.setattr(realfill_module, "generators", _oom)
    with pytest.raises(RealBenchError, match=r"during sampling \(2 per call\).*sample.batch=2 .*LoRA is kept"):
        method.generate(sample_bench[SCENE], [0, 1])


def test_compute_is_recorded_per_sample_and_work_estimated(tiny_sd, sample_bench, tmp_path):
    from realbench.methods.realfill import RealFill

    config = {"model": str(tiny_sd), "train": {**FAST_TRAIN["train"], "grad_accum": 2}, "sample": FAST_TRAIN["sample"]}
    method = RealFill(config)
    assert method.work_estimate(sample_bench[SCENE]) == {
        "train_steps": 2, "train_steps_total": 2, "micro_batches_per_step": 2, "examples_per_step": 8,
        "denoising_steps_per_sample": 2, "samples_per_call": 2}
    out = tmp_path / "run"
    evaluate("realfill", sample_bench, scenes=[SCENE], samples=2, metrics="none", select=False, method_config=config,
             out=out, progress=False)
    train = json.loads(next((out / "work" / SCENE).glob("lora-*/train.json")).read_text())
    for record in read_record_dicts(out / "records.jsonl"):
        compute = record["info"]["compute"]
        assert compute["train_seconds"] == train["seconds"] > 0 and compute["train_steps"] == 2
        assert compute["sample_seconds"] > 0 and compute["device"] == "cpu"
        assert compute["peak_memory_bytes"] is None and compute["accelerator"] is None  # no CUDA here
    assert len(train["losses"]) == 2 and train["train"]["grad_accum"] == 2
    # grad_accum=1 is the training of earlier versions: its LoRA key leaves the setting out
    plain = RealFill({"model": str(tiny_sd), **FAST_TRAIN})
    assert plain.lora_key(sample_bench[SCENE]) != method.lora_key(sample_bench[SCENE])


def test_blank_canvas_generates_every_pixel_and_is_generation_only(tiny_sd, sample_bench, tmp_path):
    from realbench.core.scene import Scene
    from realbench.methods.realfill import RealFill

    blank = {"model": str(tiny_sd), **FAST_TRAIN, "sample": {**FAST_TRAIN["sample"], "canvas": "blank"}}
    method, usual = RealFill(blank), RealFill({"model": str(tiny_sd), **FAST_TRAIN})
    assert method.generation_only and not method.composites and not usual.generation_only and usual.composites
    scene = sample_bench[SCENE]
    other = Scene(scene.id, scene.task, scene.refs, 255 - scene.target, scene.mask, scene.gt)
    method.prepare(scene, tmp_path / "work")
    a, b = method.generate(scene, [0])[0], method.generate(other, [0])[0]
    np.testing.assert_array_equal(a.image, b.image)  # an all-ones mask: nothing of the target is used
    usual.prepare(scene, tmp_path / "work")  # the same fitted LoRA
    assert not np.array_equal(usual.generate(scene, [0])[0].image, usual.generate(other, [0])[0].image)
    out = tmp_path / "run"
    evaluate("realfill", sample_bench, scenes=[SCENE], samples=1, metrics="none", select=False, method_config=blank,
             out=out, progress=False)
    record = read_record_dicts(out / "records.jsonl")[0]
    assert record["info"]["canvas"] == "blank"
    np.testing.assert_array_equal(read_rgb(out / record["image"]), a.image)  # stored as generated: not composited
    assert not np.array_equal(a.image[~scene.mask], scene.target[~scene.mask])


def test_a_model_of_another_kind_fails_when_the_method_is_built(tiny_pbe, tmp_path, capsys):
    """Issue 18: `realfill --model <Paint-by-Example>` fails before any run folder exists."""
    for method in ("realfill", "dreambooth"):
        out = tmp_path / method
        capsys.readouterr()
        assert main(["evaluate", "--method", method, "--model", str(tiny_pbe), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "'PaintByExamplePipeline'" in err and str(tiny_pbe) in err, err
        assert not out.exists()
