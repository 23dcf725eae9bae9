"""Every table row says which run and which data it is; runs on different data are not ranked
together; reports group by run and can move; fallbacks and unavailable metrics are visible."""
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from conftest import make_scene

from realbench import RealBenchError, evaluate, leaderboard
from realbench.cli import main
from realbench.run.records import read_record_dicts
from realbench.summarise.report import build_report

SCENES = ["chelsea-defocus", "rocket-style"]


@pytest.fixture(scope="module")
def runs(sample_bench, tmp_path_factory):
    root = tmp_path_factory.mktemp("identity")
    return {
        "r5": evaluate("telea", sample_bench, scenes=SCENES, out=root / "r5", progress=False).run_dir,
        "r3": evaluate("telea", sample_bench, scenes=SCENES, method_config={"radius": 3}, out=root / "r3",
                       progress=False).run_dir,
        "other": evaluate("telea", sample_bench, scenes=SCENES[:1], out=root / "other", progress=False).run_dir,
    }


def test_rows_carry_run_label_method_and_data(runs, tmp_path):
    table = leaderboard([runs["r5"], runs["r3"]])
    assert set(table["run"]) == {"telea", "telea(radius=3)"} and set(table["method"]) == {"telea"}
    assert table["data"].nunique() == 1 and table["data"].iloc[0].startswith("sample@")
    labelled = evaluate("telea", "sample", scenes=SCENES, method_config={"radius": 3}, out=tmp_path / "mine",
                        label="mine", progress=False)
    assert labelled.meta.label == "mine" and set(leaderboard([labelled])["run"]) == {"mine"}


def test_runs_on_different_scene_sets_are_refused_unless_allowed(runs, capsys):
    with pytest.raises(RealBenchError, match="different data or scene sets"):
        leaderboard([runs["r5"], runs["other"]])
    assert main(["leaderboard", str(runs["r5"]), str(runs["other"])]) == 2
    assert "--allow-mixed-data" in capsys.readouterr().err
    table = leaderboard([runs["r5"], runs["other"]], allow_mixed_data=True)
    assert table["data"].nunique() == 2
    assert main(["compare", str(runs["r5"]), str(runs["other"])]) == 2
    assert main(["report", str(runs["r5"]), str(runs["other"]), "--out", "x.html"]) == 2


def test_runs_on_different_data_with_the_same_scene_names_are_refused(tmp_path):
    for name, seed in (("a", 0), ("b", 9)):
        make_scene(tmp_path / name, "s1", seed=seed)
        evaluate("telea", tmp_path / name, out=tmp_path / f"run-{name}", progress=False)
    with pytest.raises(RealBenchError, match="different data"):
        leaderboard([tmp_path / "run-a", tmp_path / "run-b"])


def test_report_groups_by_run_and_moves_with_its_files(runs, tmp_path, capsys):
    out = tmp_path / "site" / "report.html"
    assert main(["report", str(runs["r5"]), str(runs["r3"]), "--out", str(out), "--no-self-contained"]) == 0
    printed = capsys.readouterr().out
    text = out.read_text()
    assert "<b>telea</b>" in text and "<b>telea(radius=3)</b>" in text
    files = out.parent / "report_files"
    total = out.stat().st_size + sum(p.stat().st_size for p in files.rglob("*") if p.is_file())
    assert f"({total / 2**20:.1f} MiB in all)" in printed
    moved = tmp_path / "elsewhere"
    (out.parent).rename(moved)
    from html.parser import HTMLParser

    links = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "a":
                links.append(dict(attrs)["href"])

    Links().feed((moved / "report.html").read_text())
    assert links and all((moved / href).is_file() for href in links)  # nothing points into the run folders
    # a rebuild replaces the image folder whole: no stale images survive
    (moved / "report_files" / "stale.png").write_bytes(b"old")
    build_report([runs["r5"]], moved / "report.html", self_contained=False)
    assert not (moved / "report_files" / "stale.png").exists()


def test_fallbacks_are_visible_everywhere(sample_bench, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evaluate", "--method", "homography-warp", "--scenes", ",".join(SCENES), "--set",
                 "min_inliers=100000", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fallback telea" in printed and "2 of 2 scenes fell back" in printed
    table = leaderboard([out])
    assert table.loc[0, "notes"].startswith("fallback on 2 of 2 scenes")
    text = build_report([out], tmp_path / "r.html").path.read_text()
    assert "fallback: telea" in text


def test_unavailable_and_not_requested_metrics_read_differently(sample_bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    a = tmp_path / "a"
    assert main(["evaluate", "--method", "telea", "--scenes", SCENES[0], "--metrics", "psnr,lpips",
                 "--skip-unavailable", "--no-progress", "--out", str(a)]) == 0
    printed = capsys.readouterr().out
    summary_lines = [line for line in printed.splitlines() if line.startswith(SCENES[0])]
    assert summary_lines and summary_lines[0].rstrip().endswith("unavailable")
    b = evaluate("telea", sample_bench, scenes=SCENES[:1], metrics="ssim", out=tmp_path / "b", progress=False)
    assert main(["leaderboard", str(a), str(b.run_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    row_a = next(line for line in lines if "(a)" in line and " all " in line)  # two telea runs: labels made unique
    row_b = next(line for line in lines if "(b)" in line and " all " in line)
    assert "unavailable" in row_a and "—" in row_a  # lpips unavailable, ssim never asked for
    assert "unavailable" not in row_b
    csv = tmp_path / "lb.csv"
    assert main(["leaderboard", str(a), str(b.run_dir), "--out", str(csv)]) == 0
    text = csv.read_text()
    assert "unavailable" in text and "—" not in text


def test_changed_selection_or_metric_options_rescore_instead_of_lying(sample_bench, tmp_path, recwarn):
    out = tmp_path / "run"
    evaluate("telea", sample_bench, scenes=SCENES, out=out, progress=False)
    before = len(read_record_dicts(out / "records.jsonl"))
    evaluate("telea", sample_bench, scenes=SCENES, out=out, selection_options={"margin": 0}, progress=False)
    assert len(read_record_dicts(out / "records.jsonl")) == 2 * before  # every sample ranked again
    assert any("ranking every recorded sample again" in str(w.message) for w in recwarn)
    meta = json.loads((out / "run.json").read_text())
    assert meta["selection"]["margin"] == 0
    latest = {}
    for record in read_record_dicts(out / "records.jsonl"):
        latest[record["scene"]] = record
    from realbench.selection.correspondences import CorrespondenceScorer

    scorer = CorrespondenceScorer({"margin": 0})
    from realbench.core.imageio import read_rgb

    for scene_id, record in latest.items():
        assert record["correspondences"] == scorer.score(sample_bench[scene_id], read_rgb(out / record["image"]))
    # a metric option change rescores that metric under the new protocol
    evaluate("telea", sample_bench, scenes=SCENES, out=out, metrics=["psnr", "ssim"], progress=False,
             selection_options={"margin": 0})
    assert all(r["metric_protocols"]["ssim"]["version"] == 2 for r in read_record_dicts(out / "records.jsonl"))

def test_file_and_folder_modes_follow_the_umask(sample_bench, tmp_path):
    script = (f"import os; os.umask(0o022); from realbench import evaluate; "
              f"evaluate('telea', 'sample', scenes=['{SCENES[0]}'], out=r'{tmp_path / 'run'}', progress=False)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=tmp_path)
    for path in (tmp_path / "run").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))


def test_results_json_has_means_standard_errors_and_identity(runs):
    results = json.loads((runs["r3"] / "results.json").read_text())
    assert results["label"] == "telea(radius=3)" and results["method"] == "telea"
    assert results["config"]["radius"] == 3 and results["data"]["name"] == "sample"
    assert results["data"]["checksum"] and results["protocol_versions"] == {"psnr": 2, "ssim": 2}
    per_scene = [row["psnr"] for row in results["per_scene"]]
    psnr = results["results"]["all"]["psnr"]
    assert psnr["mean"] == pytest.approx(np.mean(per_scene), abs=1e-12)
    assert psnr["stderr"] == pytest.approx(np.std(per_scene, ddof=1) / np.sqrt(len(per_scene)), abs=1e-12)
    assert set(results["results"]) == {"all", "outpaint", "inpaint"}
    assert results["versions"]["realbench"] and "git" in results


@pytest.mark.parametrize("fmt,marker", [("latex", "\\begin{tabular}"), ("json", '"run": "telea"'),
                                         ("md", "| run | method |"), ("csv", "run,method,data")])
def test_leaderboard_formats(runs, fmt, marker, capsys, tmp_path):
    assert main(["leaderboard", str(runs["r5"]), "--format", fmt]) == 0
    assert marker in capsys.readouterr().out
    suffix = {"latex": ".tex", "json": ".json", "md": ".md", "csv": ".csv"}[fmt]
    assert main(["leaderboard", str(runs["r5"]), "--out", str(tmp_path / f"t{suffix}")]) == 0
    assert marker in (tmp_path / f"t{suffix}").read_text()
