"""Seed selection, Table 2 from records, statistics, paper rows, shards, merge, Ray, max-refs."""

import numpy as np
import pandas as pd
import pytest

from realbench import RealBenchError, evaluate, leaderboard
from realbench.cli import main
from realbench.run.records import read_record_dicts
from realbench.selection.correspondences import CorrespondenceScorer, keep_count
from realbench.summarise.stats import bootstrap_ci

SCENES = ["chelsea-defocus", "rocket-style", "motorcycle-stereo", "astronaut-viewpoint"]
NOISY = "slow_method:SlowNoisyTelea"
VOLATILE = ("time", "seconds")  # wall-clock fields; everything else must match exactly


def _stable(records):
    return sorted(({k: v for k, v in r.items() if k not in VOLATILE} for r in records),
                  key=lambda r: (r["scene"], r["sample"]))


def test_selection_ranks_ground_truth_above_noise(sample_bench):
    scorer = CorrespondenceScorer()
    for scene_id in ("astronaut-viewpoint", "motorcycle-stereo"):
        scene = sample_bench[scene_id]
        noise = scene.target.copy()
        noise[scene.mask] = np.random.default_rng(0).integers(0, 256, (int(scene.mask.sum()), 3))
        good, bad = scorer.score(scene, scene.gt), scorer.score(scene, noise)
        assert good > bad and good >= 20, (scene_id, good, bad)


def test_keep_count():
    assert [keep_count(64, r) for r in (0, 25, 50, 75)] == [64, 48, 32, 16]
    assert keep_count(3, 75) == 1 and keep_count(1, 50) == 1


@pytest.fixture(scope="module")
def scored_run(sample_bench, tmp_path_factory):
    out = tmp_path_factory.mktemp("scored") / "run"
    evaluate(NOISY, sample_bench, scenes=SCENES, samples=8, method_config={"delay": 0}, out=out, progress=False)
    return out


def test_filter_rate_table_equals_direct_computation_from_records(scored_run):
    records = read_record_dicts(scored_run / "records.jsonl")
    assert all(isinstance(r["correspondences"], int) for r in records)
    table = leaderboard([scored_run], filter_rates=[0, 25, 50, 75])
    assert list(table["filter"]) == ["0%", "25%", "50%", "75%"]
    for rate in (0, 25, 50, 75):
        scene_means = []
        for scene in SCENES:
            rows = sorted((r for r in records if r["scene"] == scene),
                          key=lambda r: (-r["correspondences"], r["sample"]))
            kept = rows[: keep_count(len(rows), rate)]
            scene_means.append(np.mean([r["metrics"]["psnr"] for r in kept]))
        row = table[table["filter"] == f"{rate}%"].iloc[0]
        assert row["psnr"] == pytest.approx(np.mean(scene_means), abs=1e-12)
        assert row["samples"] == sum(keep_count(8, rate) for _ in SCENES)


def test_keep_summary_and_cli_table2(scored_run, capsys):
    assert main(["leaderboard", str(scored_run), "--filter-rates", "0,25,50,75", "--with-paper"]) == 0
    out = capsys.readouterr().out
    assert "RealFill (paper)" in out and "reported: Tang et al." in out and "75%" in out
    assert main(["leaderboard", str(scored_run), "--filter-rates", "abc"]) == 2


def test_runs_without_scores_cannot_be_filtered(sample_bench, tmp_path):
    out = tmp_path / "run"
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=out, select=False, progress=False)
    with pytest.raises(RealBenchError, match="no correspondence score"):
        leaderboard([out], filter_rates=[25])
    # a rerun with selection scores the recorded images, nothing is regenerated
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=out, progress=False)
    assert len(leaderboard([out], filter_rates=[25])) == 1


def test_bootstrap_ci_contains_the_mean_and_shrinks_with_more_scenes():
    rng = np.random.default_rng(0)
    small, large = rng.normal(10, 2, 8), rng.normal(10, 2, 128)
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < hi_s - lo_s
    assert bootstrap_ci(small) == bootstrap_ci(small)  # seeded


def test_leaderboard_ci_columns_and_check_ignores_them(scored_run, tmp_path):
    table = leaderboard([scored_run], ci=True)
    lo, hi = table.loc[0, "psnr_ci95_low"], table.loc[0, "psnr_ci95_high"]
    assert lo <= table.loc[0, "psnr"] <= hi
    baseline = tmp_path / "b.csv"
    assert main(["leaderboard", str(scored_run), "--ci", "--out", str(baseline)]) == 0
    assert main(["check", str(scored_run), "--baseline", str(baseline)]) == 0


def test_compare_says_better_only_when_significant(scored_run, sample_bench, tmp_path, capsys):
    telea = evaluate("telea", sample_bench, scenes=SCENES, out=tmp_path / "telea", progress=False).run_dir
    assert main(["compare", str(scored_run), str(telea)]) == 0
    out = capsys.readouterr().out
    from scipy import stats

    from realbench.summarise.tables import compare

    table = compare(scored_run, telea).set_index("metric")
    # telea is the noise-free version of the noisy method: higher on average, but over 4 scenes the
    # paired t interval includes 0, so the verdict must not say "better"
    row = table.loc["psnr ↑"]
    assert row["B - A"] > 0 and row["ci95 low"] < 0 < row["ci95 high"]
    assert row["verdict"] == "no significant difference" and "better" not in out.split("verdict")[-1].lower()
    assert row["bootstrap low"] > 0 and "too narrow to trust" in row["note"]  # the two intervals disagree: said
    a = pd.read_csv(scored_run / "summary.csv").iloc[:-1]["psnr"].to_numpy()
    b = pd.read_csv(telea / "summary.csv").iloc[:-1]["psnr"].to_numpy()
    assert row["p (t-test)"] == pytest.approx(stats.ttest_rel(b, a).pvalue, abs=1e-7)  # csv: 10 digits
    assert row["p (Wilcoxon)"] == pytest.approx(stats.wilcoxon(b, a).pvalue, abs=1e-7)
    assert "4 common scenes" in out


def test_paired_test_verdicts():
    from realbench.summarise.stats import paired_test

    rng = np.random.default_rng(0)
    a = rng.normal(20, 3, 12)
    better = paired_test(a, a + 1.0 + rng.normal(0, 0.2, 12))
    assert better["verdict"] == "B better" and better["ci_low"] > 0 and better["note"] == ""
    assert paired_test(a, a - 1.0 + rng.normal(0, 0.2, 12))["verdict"] == "A better"
    lower_is_better = paired_test(a, a + 1.0 + rng.normal(0, 0.2, 12), higher_is_better=False)
    assert lower_is_better["verdict"] == "A better"
    assert paired_test(a, a)["verdict"] == "no significant difference"
    assert paired_test(a, a + np.where(np.arange(12) == 3, np.inf, 0))["verdict"] == "undefined"


def test_paper_rows_are_data_with_sources():
    from realbench.summarise.tables import paper_rows

    rows = paper_rows(["psnr", "ssim", "lpips", "dreamsim", "dino", "clip"]).set_index("method")
    assert rows.loc["RealFill (paper)", "psnr"] == 14.78 and rows.loc["GeoComplete (paper)", "clip"] == 0.987
    assert rows.loc["TransFill (paper)", "dreamsim"] == 0.192
    assert all(s.startswith("reported: ") for s in rows["source"])
    table2 = paper_rows(["psnr"], table2=True)
    assert list(table2["psnr"]) == [14.78, 15.01, 15.05, 15.10]


def test_shards_merged_equal_a_single_run(sample_bench, tmp_path, capsys):
    kwargs = dict(scenes=SCENES, samples=3, method_config={"delay": 0}, progress=False)
    single = evaluate(NOISY, sample_bench, out=tmp_path / "single", **kwargs).run_dir
    shards = [evaluate(NOISY, sample_bench, out=tmp_path / f"shard{i}", shard=f"{i}/3", **kwargs).run_dir
              for i in (1, 2, 3)]
    ids = [sorted({r["scene"] for r in read_record_dicts(s / "records.jsonl")}) for s in shards]
    assert sorted(sum(ids, [])) == sorted(SCENES) and all(ids)  # a partition
    assert main(["merge", *map(str, shards), "--out", str(tmp_path / "merged")]) == 0
    merged = tmp_path / "merged"
    assert _stable(read_record_dicts(merged / "records.jsonl")) == _stable(read_record_dicts(single / "records.jsonl"))
    pd.testing.assert_frame_equal(pd.read_csv(merged / "summary.csv"), pd.read_csv(single / "summary.csv"))
    for record in read_record_dicts(merged / "records.jsonl"):
        assert (merged / record["image"]).is_file()


def test_merge_refuses_mismatched_configs(sample_bench, tmp_path, capsys):
    a = evaluate(NOISY, sample_bench, scenes=SCENES[:1], samples=1, method_config={"delay": 0}, out=tmp_path / "a",
                 progress=False, shard="1/2").run_dir
    b = evaluate(NOISY, sample_bench, scenes=SCENES[:2], samples=1, method_config={"delay": 0.001}, out=tmp_path / "b",
                 progress=False, shard="2/2").run_dir
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "m")]) == 2
    assert "not a part of the same run" in capsys.readouterr().err and not (tmp_path / "m").exists()
    with pytest.raises(RealBenchError, match="I/N"):
        evaluate("telea", sample_bench, shard="3", progress=False)


def test_max_refs_limits_references_and_is_recorded(sample_bench, tmp_path):
    run = evaluate("homography-warp", sample_bench, scenes=["astronaut-mixed"], max_refs=2, out=tmp_path / "r",
                   progress=False)
    record = read_record_dicts(run.run_dir / "records.jsonl")[0]
    assert len(record["info"]["references"]) == 2
    assert run.meta.max_refs == 2
    other = evaluate("homography-warp", sample_bench, scenes=["astronaut-mixed"], out=tmp_path / "all",
                     progress=False)
    assert other.meta.config_hash != run.meta.config_hash


def test_ray_run_gives_records_identical_to_the_local_executor(sample_bench, tmp_path):
    pytest.importorskip("ray")
    kwargs = dict(scenes=SCENES[:3], samples=2, method_config={"delay": 0}, progress=False)
    local = evaluate(NOISY, sample_bench, out=tmp_path / "local", **kwargs).run_dir
    distributed = evaluate(NOISY, sample_bench, out=tmp_path / "ray", executor="ray", **kwargs)
    assert distributed.meta.executor == "ray"
    ray_records = read_record_dicts(tmp_path / "ray" / "records.jsonl")
    assert _stable(ray_records) == _stable(read_record_dicts(local / "records.jsonl"))


def test_loftr_matcher_runs_with_weights_from_the_resolver(sample_bench, tmp_path, monkeypatch):
    pytest.importorskip("kornia")
    import torch
    from kornia.feature import LoFTR

    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path / "none"))
    with pytest.raises(RealBenchError, match="realbench weights download loftr-outdoor"):
        CorrespondenceScorer({"matcher": "loftr"})
    torch.manual_seed(0)
    (tmp_path / "w").mkdir()
    torch.save({"state_dict": LoFTR(pretrained=None).state_dict()}, tmp_path / "w" / "loftr_outdoor.ckpt")
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path / "w"))
    scorer = CorrespondenceScorer({"matcher": "loftr", "loftr_side": 128, "loftr_confidence": 0.0})
    scene = sample_bench["chelsea-defocus"]
    value = scorer.score(scene, scene.gt)
    assert isinstance(value, int) and value >= 0  # random weights: only the code path is checked
    assert scorer.protocol()["weights"].startswith("loftr-outdoor@")
    with pytest.raises(RealBenchError, match="unknown"):
        CorrespondenceScorer({"matcher": "orb"})
