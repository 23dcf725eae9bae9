"""Metric protocol versions: recorded per value, rescored on resume, and `check` refusing to
compare a run with a baseline made under another version (exit 3, not a pass, not a regression)."""
import dataclasses

import pytest

from realbench import RealBenchError, evaluate, leaderboard
from realbench.cli import main
from realbench.run.records import read_record_dicts
from realbench.summarise.tables import read_table

SCENES = ["chelsea-defocus", "rocket-style"]


def _bump(monkeypatch, name: str, version: int) -> None:
    from realbench.metrics import METRICS

    cls = METRICS.get(name)
    monkeypatch.setattr(cls, "info", dataclasses.replace(cls.info, version=version))


def test_records_and_leaderboard_carry_protocol_versions(sample_bench, tmp_path):
    run = evaluate("telea", sample_bench, scenes=SCENES, out=tmp_path / "run", progress=False)
    for record in read_record_dicts(run.run_dir / "records.jsonl"):
        assert record["metric_protocols"]["psnr"]["version"] == 2
        assert record["metric_protocols"]["ssim"]["version"] == 2
    table = leaderboard([run.run_dir])
    assert set(table["protocols"]) == {"psnr=v2;ssim=v2"}


def test_check_against_a_baseline_of_another_protocol_version_says_so(sample_bench, tmp_path, capsys):
    run = evaluate("telea", sample_bench, scenes=SCENES, out=tmp_path / "run", progress=False).run_dir
    baseline = tmp_path / "baseline.csv"
    assert main(["leaderboard", str(run), "--out", str(baseline)]) == 0
    assert main(["check", str(run), "--baseline", str(baseline)]) == 0
    old = read_table(baseline)
    old["protocols"] = old["protocols"].str.replace("ssim=v2", "ssim=v1")
    old.to_csv(baseline, index=False)
    capsys.readouterr()
    assert main(["check", str(run), "--baseline", str(baseline)]) == 3
    out = capsys.readouterr().out
    assert "NOT COMPARABLE" in out and "ssim: baseline v1" in out and "run v2" in out
    # a baseline written before versioning (no protocols column) counts as v1 everywhere
    old.drop(columns="protocols").to_csv(baseline, index=False)
    assert main(["check", str(run), "--baseline", str(baseline)]) == 3
    assert "predates versioning" in capsys.readouterr().out


def test_a_version_change_rescores_recorded_samples_on_resume(sample_bench, tmp_path, monkeypatch):
    out = tmp_path / "run"
    evaluate("telea", sample_bench, scenes=SCENES, out=out, progress=False)
    before = read_record_dicts(out / "records.jsonl")
    _bump(monkeypatch, "ssim", 3)
    # until rescored, the run holds one version only, so tables still work
    assert set(leaderboard([out])["protocols"]) == {"psnr=v2;ssim=v2"}
    evaluate("telea", sample_bench, scenes=SCENES, out=out, progress=False)
    after = read_record_dicts(out / "records.jsonl")
    assert len(after) == 2 * len(before)  # one rescore record per sample, images kept
    latest = after[len(before):]
    assert all(r["metric_protocols"]["ssim"]["version"] == 3 for r in latest)
    assert [r["image_sha256"] for r in latest] == [r["image_sha256"] for r in before]
    assert set(leaderboard([out])["protocols"]) == {"psnr=v2;ssim=v3"}


def test_a_run_mixing_versions_of_a_metric_is_refused_by_tables(sample_bench, tmp_path, monkeypatch):
    out = tmp_path / "run"
    evaluate("telea", sample_bench, scenes=SCENES[:2], out=out, progress=False)
    _bump(monkeypatch, "ssim", 3)
    from realbench.run.records import Record, RecordStore

    record = dict(read_record_dicts(out / "records.jsonl")[1])  # one scene's sample rescored under v3 alone
    record["metric_protocols"] = {**record["metric_protocols"], "ssim": {"version": 3}}
    RecordStore(out).append([Record.from_json(record, "planted", None)])
    with pytest.raises(RealBenchError, match="protocol versions \\[2, 3\\]"):
        leaderboard([out])
