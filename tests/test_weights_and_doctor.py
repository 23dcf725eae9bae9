"""Weight resolution order, the doctor report, missing-weights behaviour of whole runs."""
import json
import math

import pytest

from realbench import evaluate, leaderboard
from realbench.cli import main
from realbench.records import read_records
from realbench.weights import SPECS, WeightsMissing, resolve
from tiny_models import TINY_CLIP, make_weights_dir, register_tiny_clip, save_alexnet


@pytest.fixture(scope="module")
def weights_root(tmp_path_factory):
    return make_weights_dir(tmp_path_factory.mktemp("weights"))


@pytest.fixture
def empty_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


def test_resolution_order(tmp_path, monkeypatch, empty_weights):
    with pytest.raises(WeightsMissing):
        resolve("alexnet")
    hub = save_alexnet(tmp_path / "torch-home" / "hub" / "checkpoints")
    assert resolve("alexnet").source == "torch hub cache" and resolve("alexnet").path == hub
    env = save_alexnet(tmp_path / "no-weights")
    assert resolve("alexnet").path == env and resolve("alexnet").source == "$REALBENCH_WEIGHTS_DIR"
    explicit = save_alexnet(tmp_path / "mine")
    found = resolve("alexnet", {"alexnet": str(explicit)})
    assert found.path == explicit and found.source == "explicit path"
    assert found.id.startswith("alexnet@") and len(found.id) == len("alexnet@") + 12


def test_hf_cache_is_found_offline(empty_weights):
    # lay out a snapshot exactly as huggingface_hub's cache does
    cache = empty_weights / "hf-cache" / "models--facebook--dino-vits16"
    (cache / "refs").mkdir(parents=True)
    (cache / "refs" / "main").write_text("0123456789abcdef0123456789abcdef01234567")
    snapshot = cache / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    found = resolve("dino-vits16")
    assert found.source == "huggingface cache" and found.path == snapshot
    assert found.id == "dino-vits16@0123456789ab"


def test_doctor_reports_every_metric_missing_with_fetch_commands(empty_weights, capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for name in ("lpips", "dreamsim", "dino", "clip"):
        assert f"metric {name}" in out
    missing = [line for line in out.splitlines() if "MISSING" in line]
    assert sum(line.startswith("metric") for line in missing) == 7  # lpips x3, dreamsim, dino, dinov2, clip
    assert sum(line.startswith("method") for line in missing) == 3  # realfill, sd-inpaint, paint-by-example
    for spec in ("alexnet", "dreamsim-ensemble", "dino-vits16", "dinov2-base", "clip-vit-b-32-openai",
                 "stabilityai/stable-diffusion-2-inpainting", "Fantasy-Studio/Paint-by-Example"):
        assert f"realbench weights download {spec}" in out
    assert "psnr" in out and "weight-free" in out


def test_doctor_reports_available_weights(weights_root, monkeypatch, capsys):
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(weights_root))
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert any(line.split()[:4] == ["metric", "lpips", "alexnet", "available"] for line in out.splitlines())
    assert str(weights_root) in out


def test_weights_download_offline_gives_one_clear_error(empty_weights, monkeypatch, capsys):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    assert main(["weights", "download", "dino-vits16"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: download of weights 'dino-vits16' failed") and err.count("\n") == 1
    assert main(["weights", "download", "dino-vit"]) == 2
    assert "Did you mean 'dino-vits16'" in capsys.readouterr().err


def test_run_asking_for_missing_weights_stops_before_any_work(empty_weights, capsys):
    out = empty_weights / "run"
    assert main(["evaluate", "--method", "telea", "--metrics", "psnr,lpips,dino", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing weights for 2 metric(s)" in err
    assert "alexnet-owt-7be5be79.pth" in err and "facebook/dino-vits16" in err
    assert not out.exists()


def test_skip_unavailable_records_and_shows_unavailable(empty_weights, sample_bench):
    out = empty_weights / "run"
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], metrics=["psnr", "lpips"], out=out,
             skip_unavailable=True, progress=False)
    record = read_records(out / "records.jsonl")[0]
    assert record["metrics"]["lpips"] is None and record["metrics"]["psnr"] > 0
    assert "alexnet" in json.loads((out / "run.json").read_text())["unavailable"]["lpips"]
    table = leaderboard([out])
    assert math.isnan(table.loc[0, "lpips ↓"])
    assert main(["leaderboard", str(out)]) == 0


def test_learned_metrics_end_to_end_with_protocols_recorded(weights_root, monkeypatch, sample_bench, tmp_path):
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(weights_root))
    register_tiny_clip(weights_root)
    out = tmp_path / "run"
    result = evaluate("telea", sample_bench, scenes=["chelsea-defocus", "rocket-style"], out=out, progress=False,
                      metrics=["psnr", "lpips", "dino", "clip"],
                      metric_options={"clip": {"model": TINY_CLIP, "pretrained": "random"}})
    records = read_records(out / "records.jsonl")
    assert len(records) == 2
    for record in records:
        assert all(isinstance(record["metrics"][m], float) for m in ("lpips", "dino", "clip"))
        protocols = record["metric_protocols"]
        assert protocols["lpips"]["weights"].startswith("alexnet@")
        assert protocols["dino"]["weights"].startswith("dino-vits16@")
        assert protocols["dino"]["processor"]["size"] == {"height": 32, "width": 32}
        assert protocols["clip"]["pretrained"] == "random"
    assert set(result.summary().columns) >= {"lpips", "dino", "clip"}


def test_table1_alias_expands_to_the_six_paper_metrics():
    from realbench.runner import expand_metric_names

    assert expand_metric_names(["table1"]) == ["psnr", "ssim", "lpips", "dreamsim", "dino", "clip"]
    assert set(SPECS) >= {"alexnet", "dreamsim-ensemble", "dino-vits16", "dinov2-base", "clip-vit-b-32-openai"}
