"""Run folders written by earlier realbench versions still load: tables, checks, reports and
comparisons read them, and a compatible one resumes. The folders in tests/data/legacy-runs/ were
written by the commits their names give (telea on two sample scenes), not by this code."""
import shutil
from pathlib import Path

import pytest

from realbench import build_report, check, compare, evaluate, leaderboard
from realbench.cli import main
from realbench.summarise.runview import read_run
from realbench.summarise.tablefiles import write_table

LEGACY = Path(__file__).parent / "data" / "legacy-runs"
RUNS = sorted(p.name for p in LEGACY.iterdir())


@pytest.fixture(params=RUNS)
def legacy(request, tmp_path) -> Path:
    copy = tmp_path / request.param
    shutil.copytree(LEGACY / request.param, copy)  # never touch the committed folder
    return copy


def test_legacy_runs_tabulate_with_their_recorded_numbers(legacy):
    view = read_run(legacy)
    assert view.splits == ["all", "outpaint", "inpaint"] and view.benchmark == "realbench"
    table = leaderboard([legacy]).set_index("split")
    assert list(table.index) == ["all", "outpaint", "inpaint"]
    psnr = {r["scene"]: r["metrics"]["psnr"] for r in view.raw}
    assert table.loc["all", "psnr"] == pytest.approx(sum(psnr.values()) / len(psnr))
    assert table.loc["inpaint", "psnr"] == pytest.approx(psnr["chelsea-defocus"])


def test_legacy_runs_check_report_and_compare(legacy, tmp_path, capsys):
    baseline = tmp_path / "baseline.csv"
    write_table(leaderboard([legacy]), baseline)
    assert check([legacy], baseline).passed
    assert main(["leaderboard", str(legacy)]) == 0 and "psnr ↑" in capsys.readouterr().out
    assert build_report([legacy], tmp_path / "r.html").path.is_file()
    table = compare(legacy, legacy)
    assert set(table["verdict"]) == {"no significant difference"}


# telea's configuration hash changed once (settings were typed); the last version's runs resume
RESUMES = {"a3e2dc7-foundation": False, "69f1ad1-issue12": True}


def test_a_compatible_legacy_run_resumes_and_an_incompatible_one_is_refused(legacy, capsys):
    args = ["evaluate", "--method", "telea", "--scenes", "chelsea-defocus,rocket-style", "--no-progress",
            "--out", str(legacy)]
    before = (legacy / "records.jsonl").read_bytes()
    code = main(args)
    err = capsys.readouterr().err
    if RESUMES[legacy.name]:  # same configuration: nothing left to do, nothing rewritten
        assert code == 0 and (legacy / "records.jsonl").read_bytes() == before
        run = evaluate("telea", "sample", scenes=["chelsea-defocus", "rocket-style"], out=legacy, progress=False)
        assert len(run.records()) == 2
    else:  # another configuration hash: one error, the folder untouched
        assert code == 2 and "another configuration" in err
        assert (legacy / "records.jsonl").read_bytes() == before
