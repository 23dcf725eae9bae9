"""One writer per run folder, leftovers of killed runs that never block, inputs validated before
the first byte and never silently replaced under an existing run."""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
from conftest import make_scene
from PIL import Image

from realbench import evaluate
from realbench.cli import main
from realbench.run.records import read_record_dicts


def test_a_second_run_on_the_same_folder_stops_at_once_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.Popen([sys.executable, "-m", "realbench.cli", "evaluate", "--method",
                              "slow_method:SlowNoisyTelea",
                              "--samples", "3", "--set", "delay=0.3", "--no-progress", "--out", str(out)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (out / "records.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    assert main(["evaluate", "--method", "slow_method:SlowNoisyTelea", "--samples", "3", "--set", "delay=0.3",
                 "--no-progress", "--out", str(out)]) == 2
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert "another realbench run is writing to this folder" in err and f"pid {first.pid}" in err
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err  # the first run was not disturbed
    records = read_record_dicts(out / "records.jsonl")
    assert len(records) == 6 * 3 and len({(r["scene"], r["sample"]) for r in records}) == 18  # no duplicates


def test_a_lock_left_by_a_dead_process_is_taken_over(sample_bench, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".realbench.lock").write_text('{"pid": 999999, "host": "gone", "started": "yesterday"}')
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=out, progress=False)
    assert len(read_record_dicts(out / "records.jsonl")) == 1


def test_a_run_killed_while_writing_its_first_run_json_reruns(sample_bench, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".run.json.k3x9.tmp").write_text('{"method": "tel')  # what a SIGKILL mid-write leaves
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=out, progress=False)
    assert not list(out.glob(".*.tmp")) and (out / "run.json").is_file()


def test_a_killed_report_leaves_nothing_the_next_one_keeps(sample_bench, tmp_path):
    from realbench.summarise.report import build_report

    run = evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=tmp_path / "run", progress=False)
    site = tmp_path / "site"
    site.mkdir()
    (site / ".report.html.ab12.tmp").write_text("half a page")
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = site / f".report_files.staging-{socket.gethostname()}-{dead.stdout.strip()}-ab12"  # a killed build's
    killed.mkdir()
    (killed / ".realbench-staging").write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    (site / ".report_files.mine").mkdir()  # a look-alike without the marker is not realbench's: kept
    build_report([run], site / "report.html", self_contained=False)
    assert sorted(p.name for p in site.iterdir()) == [".report_files.mine", "report.html", "report_files"]


def _folder_outputs(tmp_path, bench, scenes):
    root = tmp_path / "made-elsewhere"
    for scene_id in scenes:
        (root / scene_id).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(np.clip(bench[scene_id].gt.astype(int) + 5 * k, 0, 255).astype(np.uint8)).save(
                root / scene_id / f"{k}.png")
    return root


def test_folder_images_are_all_checked_before_the_first_byte(sample_bench, tmp_path, capsys):
    scenes = ["chelsea-defocus", "rocket-style"]
    root = _folder_outputs(tmp_path, sample_bench, scenes)
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(root / "rocket-style" / "1.png")  # wrong size, last scene
    out = tmp_path / "run"
    assert main(["evaluate", "--method", f"folder:{root}", "--scenes", ",".join(scenes), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "scene 'rocket-style'" in err and "1.png" in err and "10x10" in err and not out.exists()
    (root / "rocket-style" / "1.png").write_bytes((root / "rocket-style" / "0.png").read_bytes()[:200])  # truncated
    assert main(["evaluate", "--method", f"folder:{root}", "--scenes", ",".join(scenes), "--out", str(out)]) == 2
    assert "cannot read image" in capsys.readouterr().err and not out.exists()


def test_folder_images_replaced_after_a_run_are_not_scored_under_the_old_numbers(sample_bench, tmp_path, capsys):
    scenes = ["chelsea-defocus"]
    root = _folder_outputs(tmp_path, sample_bench, scenes)
    out = tmp_path / "run"
    assert main(["evaluate", "--method", f"folder:{root}", "--scenes", scenes[0], "--no-progress",
                 "--out", str(out)]) == 0
    shutil.copy(root / scenes[0] / "1.png", root / scenes[0] / "0.png")
    capsys.readouterr()
    assert main(["evaluate", "--method", f"folder:{root}", "--scenes", scenes[0], "--no-progress",
                 "--out", str(out)]) == 2
    assert "changed since this run scored it" in capsys.readouterr().err


def test_other_data_into_an_existing_run_folder_is_refused(sample_bench, tmp_path, capsys):
    make_scene(tmp_path / "mine", "s1")
    out = tmp_path / "run"
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=out, progress=False)
    assert main(["evaluate", "--method", "telea", "--data", str(tmp_path / "mine"), "--out", str(out)]) == 2
    assert "holds another run: data" in capsys.readouterr().err
    assert {r["scene"] for r in read_record_dicts(out / "records.jsonl")} == {"chelsea-defocus"}
