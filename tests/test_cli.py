"""The command line: listings, one-line errors with exit code 2, nothing written on bad input."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_scene

from realbench.cli import main

SCRIPT = Path(sys.executable).parent / "realbench"


def test_methods_and_metrics_listings(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "telea" in out and "oracle" in out and "deterministic" in out
    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    assert "psnr" in out and "region=mask" in out and "↑" in out


def test_data_info_on_dev_data(dev_data, capsys):
    assert main(["data", "info", "--data", str(dev_data)]) == 0
    out = capsys.readouterr().out
    assert "3 scenes, 2 outpaint, 1 inpaint" in out
    assert "churchill" in out and "inpaint" in out


@pytest.mark.parametrize("args, message", [
    (["evaluate", "--method", "telia"], "Did you mean 'telea'"),
    (["evaluate", "--method", "telea", "--metrics", "psnr,lpipz"], "unknown metric 'lpipz'"),
    (["evaluate", "--method", "telea", "--scenes", "chelsea"], "unknown scene id 'chelsea'"),
    (["evaluate", "--method", "telea", "--set", "radius"], "expects key=value"),
    (["evaluate", "--method", "telea", "--samples", "0"], "from 1 to"),
    (["check", "nowhere", "--baseline", "x.csv"], "baseline table is missing"),
    (["leaderboard", "nowhere"], "not a realbench run folder"),
])
def test_errors_are_one_line_exit_2_and_write_nothing(args, message, tmp_path, capsys):
    out = tmp_path / "out"
    if args[0] == "evaluate":
        args = [*args, "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not out.exists()


@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed (pip install -e .)")
def test_console_script_bad_scene_no_traceback(tmp_path):
    folder = make_scene(tmp_path / "data", "kitchen")
    (folder / "target" / "target.png").write_bytes(b"\x89PNG truncated")
    proc = subprocess.run([str(SCRIPT), "evaluate", "--method", "telea", "--data", str(tmp_path / "data"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, env=os.environ)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "scene 'kitchen'" in proc.stderr and "target.png" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_verbose_diagnostics_go_to_stderr_and_tables_stay_on_stdout(tmp_path, capsys):
    args = ["evaluate", "--method", "telea", "--scenes", "chelsea-defocus", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "quiet")]) == 0
    quiet = capsys.readouterr()
    assert "realbench:" not in quiet.err
    assert main(["-v", *args, "--out", str(tmp_path / "loud")]) == 0
    loud = capsys.readouterr()
    assert "realbench: " in loud.err and "1 sample to make" in loud.err
    table = [line for line in quiet.out.splitlines() if "chelsea-defocus" in line]
    assert table == [line for line in loud.out.splitlines() if "chelsea-defocus" in line]
