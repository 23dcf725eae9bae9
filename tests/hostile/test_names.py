"""Issue 19, root cause 5 (names that are not valid UTF-8) and the terminals of root cause 8. A
name that cannot be written into a UTF-8 run file is refused before anything is written,
wherever it comes from (a scene folder, the data folder, the current folder, a label, a shard's
path); one that needs no recording works; a terminal that cannot show a character gets an
escape. Names with undecodable bytes are made with ``os.fsdecode`` of bytes (surrogates)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ._support import assert_ok, assert_refused, changes, copy_tree, python_env, snapshot


def odd(parent: Path, raw: bytes) -> Path:
    """``parent / raw`` for a name of raw bytes that are not UTF-8."""
    return Path(os.fsdecode(os.fsencode(str(parent)) + b"/" + raw))


def test_a_scene_folder_with_a_non_utf8_name_is_refused_before_anything_is_written(tmp_path, tiny_data, run):
    data = copy_tree(tiny_data, tmp_path / "data")
    (data / "s1").rename(odd(data, b"ch\xffurch"))
    before = snapshot(tmp_path)
    assert_refused(run("evaluate", "--method", "telea", "--data", data, "--out", tmp_path / "run"), "UTF-8")
    assert changes(before, snapshot(tmp_path)) == []


def test_a_data_folder_with_a_non_utf8_name_is_refused(tmp_path, tiny_data, run):
    data = copy_tree(tiny_data, odd(tmp_path, b"d\xffata"))
    before = snapshot(tmp_path)
    assert_refused(run("evaluate", "--method", "telea", "--data", data, "--out", tmp_path / "run"), "UTF-8")
    assert changes(before, snapshot(tmp_path)) == []


def test_the_current_folder_with_a_non_utf8_name_is_refused(tmp_path, tiny_data, monkeypatch, run):
    data = copy_tree(tiny_data, odd(tmp_path, b"d\xffata"))
    monkeypatch.chdir(data)
    assert_refused(run("evaluate", "--method", "telea", "--data", ".", "--out", tmp_path / "run"), "UTF-8")
    assert not (tmp_path / "run").exists()


def test_a_label_with_non_utf8_bytes_is_refused(tmp_path, tiny_data, run):
    out = tmp_path / "run"
    assert_refused(run("evaluate", "--method", "telea", "--data", tiny_data, "--label", os.fsdecode(b"l\xffabel"),
                       "--out", out), "label")
    assert not out.exists()


@pytest.fixture
def odd_run(tmp_path, tiny_data, run) -> Path:
    """A run whose folder's name is not UTF-8: the folder name is recorded nowhere, so it works."""
    out = odd(tmp_path, b"r\xffun")
    assert_ok(run("evaluate", "--method", "telea", "--data", tiny_data, "--out", out))
    return out


def test_a_run_folder_with_a_non_utf8_name_runs_and_tabulates(odd_run, tmp_path, run):
    assert_ok(run("leaderboard", odd_run, "--out", odd(tmp_path, b"t\xffable.csv")))
    assert_ok(run("compare", odd_run, odd_run))


def test_a_report_on_a_run_folder_with_a_non_utf8_name(odd_run, tmp_path, run):
    result = run("report", odd_run, "--out", tmp_path / "report.html")
    assert "Traceback" not in result.err
    assert result.code in (0, 2), result
    if result.code == 2:
        assert_refused(result, "UTF-8")


def test_merging_shards_under_a_non_utf8_folder(tmp_path, tiny_data, run):
    parent = odd(tmp_path, b"sh\xffards")
    shards = [parent / f"telea-shard-{i}of2" for i in (1, 2)]
    for i, shard in enumerate(shards, 1):
        assert_ok(run("evaluate", "--method", "telea", "--data", tiny_data, "--shard", f"{i}/2", "--out", shard))
    result = run("merge", *shards, "--out", tmp_path / "merged")
    assert "Traceback" not in result.err, result
    assert result.code in (0, 2), result
    if result.code == 2:
        assert_refused(result, "UTF-8")
        assert not (tmp_path / "merged").exists()


@pytest.mark.parametrize("flag", ["--scenes", "--metrics", "--method"])
def test_a_non_utf8_flag_value_that_names_nothing_is_one_error(flag, tmp_path, tiny_data, run):
    value = os.fsdecode(b"x\xff") if flag != "--method" else "folder:" + str(odd(tmp_path, b"o\xff"))
    args = ["evaluate", "--data", tiny_data, "--out", tmp_path / "run", flag, value]
    if flag != "--method":
        args += ["--method", "telea"]
    assert_refused(run(*args))
    assert not (tmp_path / "run").exists()


def test_a_terminal_that_cannot_show_the_arrows_gets_escapes(base_run):
    """A real process, since the streams' encoding is set when Python starts."""
    result = subprocess.run([sys.executable, "-m", "realbench", "leaderboard", str(base_run)], capture_output=True,
                            env=python_env(PYTHONIOENCODING="ascii"), timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    assert b"Traceback" not in result.stderr
    assert b"psnr \\u2191" in result.stdout


def test_a_reference_file_with_a_non_utf8_name_is_refused_like_a_scene_folder(tmp_path, tiny_data, run):
    """``ref/0\\xc31.jpg``: its name would go into the run files and an export's ``source`` column
    as a lone surrogate; refused, naming the scene and the file, before anything is written."""
    data = copy_tree(tiny_data, tmp_path / "data")
    (data / "s1/ref/00.jpg").rename(odd(data / "s1/ref", b"0\xc31.jpg"))
    before = snapshot(tmp_path)
    error = assert_refused(run("data", "export", "--data", data, "--to", tmp_path / "export"), "UTF-8", "s1", "0")
    assert "scene 's1'" in error
    assert_refused(run("evaluate", "--method", "telea", "--data", data, "--out", tmp_path / "run"), "UTF-8", "s1")
    assert changes(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize("how", ["--data", "--method"])
def test_a_tilde_of_a_user_that_does_not_exist_is_one_error(how, tmp_path, tiny_data, run):
    args = ["--data", "~nouser-realbench/x"] if how == "--data" else \
        ["--data", tiny_data, "--method", "folder:~nouser-realbench/x"]
    if how == "--data":
        args += ["--method", "telea"]
    error = assert_refused(run("evaluate", *args, "--out", tmp_path / "run"),
                           "cannot expand ~nouser-realbench (no such user)")
    assert "RuntimeError" not in error
    assert not (tmp_path / "run").exists()


NFC, NFD = "caf\u00e9", "cafe\u0301"  # print alike


def test_two_scene_folders_whose_ids_differ_only_in_unicode_form_are_refused(tmp_path, tiny_data, run):
    data = copy_tree(tiny_data, tmp_path / "data")
    (data / "s1").rename(data / NFC)
    (data / "s2").rename(data / NFD)
    assert_refused(run("data", "info", "--data", data), "two scene folders", "unicode normal form")


def test_two_reference_files_whose_names_differ_only_in_unicode_form_are_refused(tmp_path, tiny_data, run):
    data = copy_tree(tiny_data, tmp_path / "data")
    refs = sorted((data / "s1/ref").iterdir())
    refs[0].rename(refs[0].with_name(f"{NFC}.jpg"))
    refs[1].rename(refs[1].with_name(f"{NFD}.jpg"))
    assert_refused(run("data", "info", "--data", data), "scene 's1'", "two files", "unicode normal form")
