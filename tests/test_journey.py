"""The GPU user's journey, on replicas of the real artifacts behind a simulated internet:
fresh caches -> `realbench doctor` (everything missing) -> every fetch command it prints, run
verbatim -> offline doctor (everything present) -> `evaluate --metrics table1` with each of
realfill, dreambooth (SD2 base), sd-inpaint, paint-by-example and homography-warp on the release
archive itself."""
import math
import shlex

import pytest
from replicas import release_archive, zip_folder

from realbench.cli import main
from realbench.run.records import read_record_dicts

TABLE1 = ("psnr", "ssim", "lpips", "dreamsim", "dino", "clip")
FAST = {
    "realfill": ["--set", "train.steps=2", "--set", "train.batch_size=2", "--set", "train.resolution=64",
                 "--set", "sample.steps=2", "--set", "sample.batch=1"],
    "dreambooth": ["--set", "train.steps=2", "--set", "train.batch_size=2", "--set", "train.resolution=64",
                   "--set", "sample.steps=2", "--set", "sample.batch=1", "--set", "sample.strength=0.5"],
    "sd-inpaint": ["--set", "steps=2", "--set", "resolution=64"],
    "paint-by-example": ["--set", "steps=2", "--set", "resolution=64"],
    "homography-warp": [],
}


@pytest.fixture
def fresh_machine(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(hf_constants, "HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    return tmp_path


def test_fresh_gpu_machine_to_table1(fresh_machine, internet_dreamsim, monkeypatch, capsys):
    internet = internet_dreamsim
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(("metric", "method", "select"))]
    assert rows and all(row[3] == "MISSING" for row in rows if row[2] != "-")
    commands = [line.strip() for line in out.splitlines() if line.startswith("  realbench ")]
    assert len(commands) >= 8

    for command in commands:  # verbatim, as a user pastes them
        argv = shlex.split(command)
        assert argv[0] == "realbench"
        assert main(argv[1:]) == 0, command
    capsys.readouterr()

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "MISSING" not in out and "fetch what is missing" not in out
    requests_before = len(internet.log)

    root = release_archive(fresh_machine / "download")
    archive = zip_folder(root, fresh_machine / "realfill_data_release_full.zip")
    for method, extra in FAST.items():
        run = fresh_machine / "runs" / method
        argv = ["evaluate", "--method", method, "--data", str(archive), "--scenes", "0,2", "--samples", "1",
                "--metrics", "table1", "--no-progress", "--out", str(run), *extra]
        assert main(argv) == 0, method
        records = read_record_dicts(run / "records.jsonl")
        assert sorted(r["scene"] for r in records) == ["0", "2"]
        for record in records:
            assert all(isinstance(record["metrics"][m], float) and math.isfinite(record["metrics"][m]) for m in TABLE1)
            assert record["metric_protocols"]["dreamsim"]["weights"].startswith("dreamsim-ensemble@")
            if method != "homography-warp":
                assert record["info"]["resolution"] == ([64, 64] if record["scene"] == "2" else [80, 64])
            if method == "dreambooth":  # the base model the doctor's command fetched
                assert record["info"]["model"].startswith("stabilityai/stable-diffusion-2-base@")
    assert len(internet.log) == requests_before  # nothing reached for while offline
    out = capsys.readouterr().out
    assert "RealBench" in out
