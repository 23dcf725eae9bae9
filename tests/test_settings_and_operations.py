"""Typed settings checked before anything is written, --device, shards counted from 0 or by
Slurm, merge coverage, an unreachable Ray cluster, --version and help for everything."""
import argparse
import json
import os
import time

import pytest

import realbench
from realbench import RealBenchError, evaluate
from realbench.cli import build_parser, main
from realbench.run.planning import parse_shard

SCENE = "chelsea-defocus"


@pytest.mark.parametrize("setting,message", [
    ("radius=abc", "setting 'radius' must be a number, got 'abc'"),
    ("radius=-4", "setting 'radius' must be > 0, got -4"),
    ("radius=[1, 2]", "must be a number"),
    ("feather=1.5", "setting 'feather' must be an integer, got 1.5"),
    ("radus=3", "Did you mean 'radius'"),
])
def test_bad_method_settings_are_one_error_and_nothing_is_written(setting, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evaluate", "--method", "telea", "--set", setting, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: method 'telea'") and message in err
    assert not out.exists()


def test_nested_settings_are_typed_too(tmp_path):
    from realbench.core.settings import parse_settings
    from realbench.methods.realfill import RealFillSettings

    with pytest.raises(RealBenchError, match="'train.steps' must be >= 1, got 0"):
        parse_settings(RealFillSettings, {"train": {"steps": 0}}, "method 'realfill'")
    with pytest.raises(RealBenchError, match="'train.lora_dropout' must be < 1"):
        parse_settings(RealFillSettings, {"train.lora_dropout": 1.0}, "method 'realfill'")
    with pytest.raises(RealBenchError, match="'sample.scheduler' must be one of 'ddpm'"):
        parse_settings(RealFillSettings, {"sample.scheduler": "euler"}, "method 'realfill'")
    with pytest.raises(RealBenchError, match="'train' is a group of settings"):
        parse_settings(RealFillSettings, {"train": 3}, "method 'realfill'")
    settings = parse_settings(RealFillSettings, {"train.steps": 2.0, "sample.guidance": 2}, "method 'realfill'")
    assert settings.train.steps == 2 and isinstance(settings.train.steps, int)
    assert settings.sample.guidance == 2.0 and isinstance(settings.sample.guidance, float)


def test_metric_and_selection_options_are_typed(tmp_path, capsys):
    assert main(["evaluate", "--method", "telea", "--metrics", "psnr", "--metric-set", "psnr.x=1",
                 "--out", str(tmp_path / "a")]) == 2
    assert "metric 'psnr' has no setting 'x'" in capsys.readouterr().err
    with pytest.raises(RealBenchError, match="'margin' must be >= 0"):
        evaluate("telea", scenes=[SCENE], selection_options={"margin": -1}, out=tmp_path / "b", progress=False)
    assert not (tmp_path / "b").exists()


def test_legacy_default_config_plugins_are_typed_from_their_values(tmp_path):
    from slow_method import SlowNoisyTelea

    assert SlowNoisyTelea({"delay": 0}).config["delay"] == 0.0
    with pytest.raises(RealBenchError, match="'delay' must be a finite number"):
        SlowNoisyTelea({"delay": "soon"})


@pytest.mark.parametrize("device,message", [("tpu9", "is not a torch device"), ("cuda:7", "CUDA is not available"),
                                            ("meta", "realbench runs on")])
def test_device_is_checked_before_anything(device, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evaluate", "--method", "telea", "--device", device, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_device_reaches_methods_metrics_and_matcher(tmp_path, monkeypatch):
    import realbench.run.runner as runner

    seen = {}
    real_metrics, real_method, real_scorer = runner.resolve_metrics, runner.resolve_method, runner.CorrespondenceScorer

    def metrics_spy(names, weights=None, options=None, skip=False, device=None):
        seen["metrics"] = device
        return real_metrics(names, weights, options, skip, device)

    def method_spy(name, config=None):
        seen["method"] = adapter = real_method(name, config)
        return adapter

    def scorer_spy(*args, **kwargs):
        seen["matcher"] = scorer = real_scorer(*args, **kwargs)
        return scorer

    monkeypatch.setattr(runner, "resolve_metrics", metrics_spy)
    monkeypatch.setattr(runner, "resolve_method", method_spy)
    monkeypatch.setattr(runner, "CorrespondenceScorer", scorer_spy)
    result = evaluate("telea", scenes=[SCENE], device="cpu", out=tmp_path / "run", progress=False)
    assert seen["metrics"] == "cpu" and seen["method"].device == "cpu" and seen["matcher"].device == "cpu"
    assert result.meta.device == "cpu"
    assert result.meta.config_hash == evaluate("telea", scenes=[SCENE], out=tmp_path / "run2",
                                                  progress=False).meta.config_hash  # not part of the identity


def test_shards_counted_from_zero_or_from_slurm(monkeypatch):
    assert (parse_shard("1/4") == (1, 4) and parse_shard("0/4", base=0) == (1, 4)
            and parse_shard("3/4", base=0) == (4, 4))
    with pytest.raises(RealBenchError, match="--shard-base 0"):
        parse_shard("0/4")
    with pytest.raises(RealBenchError, match="between 0 and 3"):
        parse_shard("4/4", base=0)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "7")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    assert parse_shard("slurm") == (3, 3)
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    with pytest.raises(RealBenchError, match="SLURM_ARRAY_TASK_ID"):
        parse_shard("slurm")


def test_merge_refuses_an_incomplete_set_of_shards(sample_bench, tmp_path, capsys):
    for index in (0, 1):
        assert main(["evaluate", "--method", "telea", "--shard", f"{index}/2", "--shard-base", "0", "--no-progress",
                     "--out", str(tmp_path / f"sh{index}")]) == 0
    capsys.readouterr()
    assert main(["merge", str(tmp_path / "sh0"), "--out", str(tmp_path / "merged")]) == 2
    err = capsys.readouterr().err
    assert "3 of 6 scenes are in no shard" in err
    assert not (tmp_path / "merged").exists()
    assert main(["merge", str(tmp_path / "sh0"), "--out", str(tmp_path / "partial"), "--partial"]) == 0
    assert "PARTIAL" in capsys.readouterr().out
    assert json.loads((tmp_path / "partial" / "run.json").read_text())["partial"]
    assert main(["merge", str(tmp_path / "sh0"), str(tmp_path / "sh1"), "--out", str(tmp_path / "whole")]) == 0
    assert json.loads((tmp_path / "whole" / "run.json").read_text())["partial"] is None


def test_an_unreachable_ray_cluster_fails_fast_and_writes_nothing(tmp_path, capsys):
    pytest.importorskip("ray")
    out = tmp_path / "run"
    started = time.monotonic()
    assert main(["evaluate", "--method", "telea", "--executor", "ray", "--ray-address", "127.0.0.1:1",
                 "--out", str(out)]) == 2
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in err and err.count("\n") == 1
    assert not out.exists()


def test_version_and_help_for_every_command_and_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith(f"realbench {realbench.__version__}")
    parser = build_parser()
    missing = []

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not choice.help:
                        missing.append(f"{path} {choice.dest}")
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "realbench")
    assert not missing, missing


def test_sigterm_stops_a_run_like_ctrl_c(tmp_path):
    import signal
    import subprocess
    import sys

    env = {**os.environ}
    process = subprocess.Popen([sys.executable, "-m", "realbench.cli", "evaluate", "--method",
                                "slow_method:SlowNoisyTelea", "--samples", "40", "--no-progress", "--out",
                                str(tmp_path / "run")], env={**env, "PYTHONPATH": os.pathsep.join(sys.path)},
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (tmp_path / "run" / "records.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted; rerun the same command to resume" in err
