"""Weight resolution order, the doctor report, missing-weights behaviour of whole runs."""
import json
import math

import pytest
from replicas import alexnet_file

from realbench import evaluate, leaderboard
from realbench.cli import main
from realbench.run.records import read_record_dicts
from realbench.weights import SPECS, WeightsMissing, resolve


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
    hub = alexnet_file(tmp_path / "torch-home" / "hub" / "checkpoints")
    assert resolve("alexnet").source == "torch hub cache" and resolve("alexnet").path == hub
    env = alexnet_file(tmp_path / "no-weights")
    assert resolve("alexnet").path == env and resolve("alexnet").source == "$REALBENCH_WEIGHTS_DIR"
    explicit = alexnet_file(tmp_path / "mine")
    found = resolve("alexnet", {"alexnet": str(explicit)})
    assert found.path == explicit and found.source == "explicit path"
    assert found.id.startswith("alexnet@") and len(found.id) == len("alexnet@") + 12


def test_hf_cache_is_found_offline(empty_weights, hub_replicas):
    # lay out a snapshot exactly as huggingface_hub's cache does: blobs, snapshot symlinks, refs/main
    cache = empty_weights / "hf-cache" / "models--facebook--dino-vits16"
    (cache / "refs").mkdir(parents=True)
    (cache / "refs" / "main").write_text("0123456789abcdef0123456789abcdef01234567")
    snapshot = cache / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    snapshot.mkdir(parents=True)
    (cache / "blobs").mkdir()
    for name in ("config.json", "pytorch_model.bin"):
        blob = cache / "blobs" / name.replace(".", "-")
        blob.write_bytes((hub_replicas["facebook/dino-vits16"] / name).read_bytes())
        (snapshot / name).symlink_to(f"../../blobs/{blob.name}")
    found = resolve("dino-vits16")
    assert found.source == "huggingface cache" and found.path == snapshot
    assert found.id == "dino-vits16@0123456789ab"
    # a weights file cut short (an interrupted copy) is not "present"
    (cache / "blobs" / "pytorch_model-bin").write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(WeightsMissing):
        resolve("dino-vits16")


def test_doctor_reports_every_metric_missing_with_fetch_commands(empty_weights, capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for name in ("lpips", "dreamsim", "dino", "clip"):
        assert f"metric {name}" in out
    from realbench.metrics import METRICS

    missing = [line for line in out.splitlines() if "MISSING" in line]
    learned = [name for name in METRICS.names() if METRICS.get(name).info.needs_weights]
    assert sorted(line.split()[1] for line in missing if line.startswith("metric")) == sorted(learned)
    assert sorted(line.split()[1] for line in missing if line.startswith("method")) == [
        "dreambooth", "paint-by-example", "realfill", "sd-inpaint"]
    commands = [line.strip() for line in out.splitlines() if line.startswith("  realbench weights download")]
    for spec in ("alexnet", "dreamsim-ensemble", "dino-vits16", "dinov2-base", "clip-vit-b-32-openai",
                 "stabilityai/stable-diffusion-2-inpainting", "Fantasy-Studio/Paint-by-Example", "loftr-outdoor"):
        assert f"realbench weights download {spec}" in commands
    assert len(commands) == len(set(commands))
    assert "psnr" in out and "weight-free" in out


def test_doctor_reports_available_weights(weights_dir, capsys):
    weights_root = weights_dir
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert any(line.split()[:4] == ["metric", "lpips", "alexnet", "available"] for line in out.splitlines())
    assert str(weights_root) in out


def test_weights_download_offline_gives_one_clear_error(empty_weights, monkeypatch, capsys):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    assert main(["weights", "download", "dino-vits16"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 1 of 1 weights could not be downloaded:") and err.count("\n") == 2
    assert "weights 'dino-vits16': no network" in err and "HF_HUB_OFFLINE" in err
    assert main(["weights", "download", "dino-vit"]) == 2
    assert "Did you mean 'dino-vits16'" in capsys.readouterr().err


def test_run_asking_for_missing_weights_stops_before_any_work(empty_weights, capsys):
    out = empty_weights / "run"
    assert main(["evaluate", "--method", "telea", "--metrics", "psnr,lpips,dino", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    first, *items = err.splitlines()  # one error line, then one indented line per missing metric
    assert first.startswith("error: missing weights for 2 metrics") and len(items) == 2
    assert items[0].startswith("  metric 'lpips'") and "realbench weights download alexnet" in items[0]
    assert items[1].startswith("  metric 'dino'") and "dino-vits16" in items[1]
    assert not out.exists()


def test_skip_unavailable_records_and_shows_unavailable(empty_weights, sample_bench):
    out = empty_weights / "run"
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], metrics=["psnr", "lpips"], out=out,
             skip_unavailable=True, progress=False)
    record = read_record_dicts(out / "records.jsonl")[0]
    assert record["metrics"]["lpips"] is None and record["metrics"]["psnr"] > 0
    assert "alexnet" in json.loads((out / "run.json").read_text())["unavailable"]["lpips"]
    table = leaderboard([out])
    assert math.isnan(table.loc[0, "lpips"])
    assert main(["leaderboard", str(out)]) == 0


def test_learned_metrics_end_to_end_with_protocols_recorded(weights_dir, sample_bench, tmp_path):
    out = tmp_path / "run"
    result = evaluate("telea", sample_bench, scenes=["chelsea-defocus", "rocket-style"], out=out, progress=False,
                      metrics=["psnr", "lpips", "dino", "clip"])
    records = read_record_dicts(out / "records.jsonl")
    assert len(records) == 2
    for record in records:
        assert all(isinstance(record["metrics"][m], float) for m in ("lpips", "dino", "clip"))
        protocols = record["metric_protocols"]
        assert protocols["lpips"]["weights"].startswith("alexnet@")
        assert protocols["dino"]["weights"].startswith("dino-vits16@")
        assert protocols["dino"]["preprocess"]["std"] == [0.229, 0.224, 0.225]
        assert (protocols["clip"]["pretrained"] == "openai"
                and protocols["clip"]["weights"].startswith("clip-vit-b-32-openai@"))
        assert {p["version"] for p in protocols.values()} >= {1, 2}
    assert set(result.summary().columns) >= {"lpips", "dino", "clip"}


def test_table1_alias_expands_to_the_six_paper_metrics():
    from realbench.run.components import expand_metric_names

    assert expand_metric_names(["table1"]) == ["psnr", "ssim", "lpips", "dreamsim", "dino", "clip"]
    assert set(SPECS) >= {"alexnet", "dreamsim-ensemble", "dino-vits16", "dinov2-base"}
