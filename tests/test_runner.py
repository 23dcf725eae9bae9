"""Runner: records, provenance, resume (including after SIGKILL), no writes on bad input."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, make_scene

from realbench import RealBenchError, evaluate
from realbench.cli import main
from realbench.core.imageio import read_rgb
from realbench.run.records import read_record_dicts

TESTS = Path(__file__).resolve().parent


def test_oracle_gives_perfect_scores(sample_bench, tmp_path):
    result = evaluate("oracle", sample_bench, out=tmp_path / "run", progress=False)
    summary = result.summary()
    assert (summary["psnr"] == 100.0).all()  # PSNR is capped at 100 dB (a perfect sample), never inf
    assert np.allclose(summary["ssim"], 1.0)


def test_telea_records_are_complete_and_images_composited(sample_bench, tmp_path):
    out = tmp_path / "run"
    evaluate("telea", sample_bench, scenes=["chelsea-defocus", "rocket-style"], samples=2, seed=7, out=out,
             progress=False)
    records = read_record_dicts(out / "records.jsonl")
    assert len(records) == 4
    meta = json.loads((out / "run.json").read_text())
    for record in records:
        assert record["config_hash"] == meta["config_hash"]
        assert record["seed"] == 7 + record["sample"]
        assert {"psnr", "ssim"} == set(record["metrics"])
        assert record["versions"]["numpy"] and "python" in record["versions"] and "git" in record
        assert record["scene_checksum"] == sample_bench[record["scene"]].checksum
        image = read_rgb(out / record["image"])
        scene = sample_bench[record["scene"]]
        np.testing.assert_array_equal(image[~scene.mask], scene.target[~scene.mask])
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["scene"]) == ["chelsea-defocus", "rocket-style", "(mean over scenes)"]


def test_same_seed_same_numbers(sample_bench, tmp_path):
    from slow_method import SlowNoisyTelea  # noqa: F401  (registered by module:Class name)

    kwargs = dict(scenes=["chelsea-defocus"], samples=3, seed=3, method_config={"delay": 0}, progress=False)
    a = evaluate("slow_method:SlowNoisyTelea", sample_bench, out=tmp_path / "a", **kwargs).records()
    b = evaluate("slow_method:SlowNoisyTelea", sample_bench, out=tmp_path / "b", **kwargs).records()
    measured = ["image", "fit_seconds", "sample_seconds", "peak_memory_bytes"]  # paths and timings differ
    pd.testing.assert_frame_equal(a.drop(columns=measured), b.drop(columns=measured))
    assert a["psnr"].nunique() == 3  # the seeds really differ


def test_rerun_skips_finished_samples_and_adds_missing_metrics(sample_bench, tmp_path):
    from slow_method import SlowNoisyTelea

    out = tmp_path / "run"
    args = dict(scenes=["chelsea-defocus"], method_config={"delay": 0}, progress=False, out=out)
    SlowNoisyTelea.calls.clear()
    evaluate("slow_method:SlowNoisyTelea", sample_bench, samples=2, metrics=["psnr"], **args)
    assert len(SlowNoisyTelea.calls) == 2
    evaluate("slow_method:SlowNoisyTelea", sample_bench, samples=3, metrics=["psnr", "ssim"], **args)
    assert SlowNoisyTelea.calls[2:] == [("chelsea-defocus", (2,))]  # only the new sample is generated
    records = evaluate("slow_method:SlowNoisyTelea", sample_bench, samples=3, metrics=["psnr", "ssim"],
                       **args).records()
    assert len(SlowNoisyTelea.calls) == 3
    assert len(records) == 3 and records["ssim"].notna().all()


def test_other_config_in_same_out_dir_is_refused(sample_bench, tmp_path):
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=tmp_path / "run", progress=False)
    with pytest.raises(RealBenchError, match="another configuration"):
        evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=tmp_path / "run", method_config={"radius": 2},
                 progress=False)


def test_bad_input_writes_nothing(tmp_path):
    folder = make_scene(tmp_path / "data")
    (folder / "target" / "mask.png").write_bytes(b"garbage")
    for kwargs in ({"data": str(tmp_path / "data")}, {"data": "sample", "metrics": ["psnrr"]},
                   {"data": "sample", "method_config": {"radius_px": 3}}):
        with pytest.raises(RealBenchError):
            evaluate("telea", out=tmp_path / "out", progress=False, **kwargs)
        assert not (tmp_path / "out").exists()


def _run_cli(args, env):
    return subprocess.Popen([sys.executable, "-m", "realbench.cli", *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_and_resume_matches_uninterrupted_run(tmp_path):
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    common = ["evaluate", "--method", "slow_method:SlowNoisyTelea", "--samples", "3", "--no-progress",
              "--scenes", "chelsea-defocus,rocket-style,coffee-lighting"]
    killed = tmp_path / "killed"
    proc = _run_cli([*common, "--out", str(killed), "--set", "delay=0.3"], env)
    deadline = time.time() + 60
    while time.time() < deadline:
        lines = read_record_dicts(killed / "records.jsonl")
        if len(lines) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(read_record_dicts(killed / "records.jsonl"))
    assert 3 <= partial < 9, "the kill must land mid-run"
    # resume with the same config (the delay is part of it), then an uninterrupted reference run
    assert _run_cli([*common, "--out", str(killed), "--set", "delay=0.3"], env).wait() == 0
    assert main([*common, "--out", str(tmp_path / "clean"), "--set", "delay=0.3"]) == 0  # in-process: quicker
    resumed = pd.read_csv(killed / "summary.csv")
    clean = pd.read_csv(tmp_path / "clean" / "summary.csv")
    pd.testing.assert_frame_equal(resumed, clean)
    assert len(read_record_dicts(killed / "records.jsonl")) == 9
    assert not list(killed.rglob("*.tmp"))
