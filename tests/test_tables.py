"""Leaderboard protocol (mean over samples, then scenes), splits, regression check, golden baseline."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from realbench import check, evaluate, leaderboard
from realbench.cli import main
from realbench.summarise.tables import read_table

GOLDEN = Path(__file__).resolve().parent.parent / "results" / "baselines" / "telea-sample.csv"


@pytest.fixture(scope="module")
def uneven_run(sample_bench, tmp_path_factory):
    """A run whose scenes have different sample counts, so mean-of-means != mean-of-samples."""
    out = tmp_path_factory.mktemp("uneven") / "run"
    cfg = {"delay": 0}
    evaluate("slow_method:SlowNoisyTelea", sample_bench, scenes=["chelsea-defocus"], samples=4, out=out,
             method_config=cfg, progress=False)
    evaluate("slow_method:SlowNoisyTelea", sample_bench, scenes=["rocket-style", "coffee-lighting"], samples=1,
             out=out, method_config=cfg, progress=False)
    return out


def test_leaderboard_is_mean_over_scenes_of_scene_means(uneven_run):
    records = [json.loads(line) for line in (uneven_run / "records.jsonl").read_text().splitlines()]
    per_scene = {}
    for r in records:
        per_scene.setdefault((r["scene"], r["task"]), []).append(r["metrics"]["psnr"])
    means = {k: sum(v) / len(v) for k, v in per_scene.items()}
    table = leaderboard([uneven_run])
    row = table[table["split"] == "all"].iloc[0]
    assert row["psnr"] == pytest.approx(sum(means.values()) / len(means), abs=1e-12)
    assert row["scenes"] == 3 and row["samples"] == 6
    flat = np.mean([r["metrics"]["psnr"] for r in records])
    assert abs(row["psnr"] - flat) > 1e-3  # the protocol differs from pooling samples
    for split in ("outpaint", "inpaint"):
        expected = np.mean([v for (scene, task), v in means.items() if task == split])
        assert table[table["split"] == split].iloc[0]["psnr"] == pytest.approx(expected, abs=1e-12)


def test_leaderboard_rows_sorted_by_first_metric_and_csv_md_written(sample_bench, uneven_run, tmp_path):
    telea = tmp_path / "telea"
    evaluate("telea", sample_bench, scenes=["chelsea-defocus", "rocket-style", "coffee-lighting"], out=telea,
             progress=False)
    out = tmp_path / "lb.csv"
    (tmp_path / "lb.md").write_text("my notes")  # not named: never overwritten
    assert main(["leaderboard", str(uneven_run), str(telea), "--out", str(out)]) == 0
    assert (tmp_path / "lb.md").read_text() == "my notes"
    table = pd.read_csv(out)  # plain column names, as programs read them
    alls = table[table["split"] == "all"]
    assert list(alls["psnr"]) == sorted(alls["psnr"], reverse=True)
    assert set(table["method"]) == {"telea", "slow_method:SlowNoisyTelea"}
    assert main(["leaderboard", str(uneven_run), "--out", str(tmp_path / "t.csv"),
                 "--out", str(tmp_path / "t.md")]) == 0
    assert "| run | method | data | split | scenes | samples | psnr ↑ |" in (tmp_path / "t.md").read_text()


def test_check_passes_then_fails_on_planted_regression(uneven_run, tmp_path, capsys):
    baseline = tmp_path / "baseline.csv"
    assert main(["leaderboard", str(uneven_run), "--out", str(baseline)]) == 0
    assert main(["check", str(uneven_run), "--baseline", str(baseline)]) == 0
    planted = read_table(baseline)
    planted.loc[planted["split"] == "all", "psnr"] += 0.05
    planted.to_csv(baseline, index=False)
    capsys.readouterr()
    assert main(["check", str(uneven_run), "--baseline", str(baseline)]) == 1
    report = capsys.readouterr().out
    assert "FAILED" in report and "psnr" in report and "-0.05" in report
    assert main(["check", str(uneven_run), "--baseline", str(baseline), "--atol", "psnr=0.1"]) == 0
    assert main(["check", str(uneven_run), "--baseline", str(baseline), "--rtol", "psnr=0.01"]) == 0


def test_check_fails_on_missing_rows_and_scene_count(uneven_run, tmp_path):
    baseline = tmp_path / "baseline.csv"
    table = leaderboard([uneven_run])
    table.loc[0, "scenes"] = 33
    table.to_csv(baseline, index=False)
    assert not check(uneven_run, baseline).passed
    table = leaderboard([uneven_run])
    table.loc[0, "split"] = "sideways"  # a row of this run that the run no longer has
    table.to_csv(baseline, index=False)
    result = check(uneven_run, baseline)
    assert not result.passed and "1 baseline row the run no longer has" in result.report()
    table = leaderboard([uneven_run])
    other = table.iloc[[0]].assign(run="realfill")  # another run's row: not checked, and said so
    pd.concat([table, other]).to_csv(baseline, index=False)
    result = check(uneven_run, baseline)
    assert result.passed and result.not_checked == ["realfill"] and "'realfill' were not checked" in result.report()


def test_golden_telea_on_sample(sample_bench, tmp_path):
    """CI guard: telea on the built-in sample reproduces the committed baseline."""
    run = tmp_path / "telea"
    evaluate("telea", "sample", out=run, progress=False)
    result = check(run, GOLDEN)
    assert result.passed, result.report()
    assert len(result.diffs) == 3 * 2
