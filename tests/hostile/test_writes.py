"""Issue 19, root causes 4, 12 and 15, and crash safety: nothing is written or deleted that
realbench did not make. A report's asset folder that realbench did not make is refused (never
replaced); a refused --out gets no lock file; --version and --help never take a lock in the
checkout; a merge, report, export or unpack killed at an exact point leaves nothing its rerun
trips over, and the rerun gives the uninterrupted result with no temp files left."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ._support import (
    assert_ok,
    assert_refused,
    changes,
    copy_tree,
    first_module,
    leftovers,
    snapshot,
)

# ------------------------------------------------------------------ report asset folders (root cause 4)


@pytest.mark.parametrize("mode", [["--self-contained"], ["--no-self-contained"], []],
                         ids=["self-contained", "with-files", "default"])
@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_files_folder_realbench_did_not_make_is_never_touched(mode, kind, tmp_path, base_run, run):
    assets = tmp_path / "page_files"
    if kind == "folder":
        assets.mkdir()
        (assets / "notes.txt").write_text("my notes")
    else:
        assets.write_text("a file of that name")
    before = snapshot(tmp_path)
    assert_refused(run("report", base_run, "--out", tmp_path / "page.html", *mode), "page_files")
    assert changes(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize("mode", [["--self-contained"], ["--no-self-contained"], []],
                         ids=["self-contained", "with-files", "default"])
def test_a_files_folder_that_is_a_link_to_a_reports_own_folder_is_never_written_through(mode, tmp_path, base_run,
                                                                                           run):
    other = tmp_path / "other"
    assert_ok(run("report", base_run, "--out", other / "p.html", "--no-self-contained"))  # a marked folder
    here = tmp_path / "here"
    here.mkdir()
    (here / "q_files").symlink_to(other / "p_files")
    before = snapshot(tmp_path)
    assert_refused(run("report", base_run, "--out", here / "q.html", *mode), "symbolic link")
    assert changes(before, snapshot(tmp_path)) == []


def test_a_report_removes_its_own_files_folder_when_it_needs_it_no_more(tmp_path, base_run, run):
    page = tmp_path / "page.html"
    assert_ok(run("report", base_run, "--out", page, "--no-self-contained"))
    assert (tmp_path / "page_files").is_dir() and leftovers(tmp_path) == []
    assert_ok(run("report", base_run, "--out", page, "--self-contained"))
    assert not (tmp_path / "page_files").exists() and leftovers(tmp_path) == []


def test_a_hidden_folder_named_like_a_report_backup_is_not_deleted(tmp_path, base_run, run):
    mine = tmp_path / ".page_files.old"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    assert_ok(run("report", base_run, "--out", tmp_path / "page.html", "--no-self-contained"))
    assert (mine / "notes.txt").read_text() == "my notes"


def test_a_hidden_folder_named_like_a_merge_staging_folder_is_not_deleted(tmp_path, shards, run):
    mine = tmp_path / ".merged.merging-notes"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    assert_ok(run("merge", *shards, "--out", tmp_path / "merged"))
    assert (mine / "notes.txt").read_text() == "my notes"


# ------------------------------------------------------------------ refused output folders (root cause 12)

@pytest.mark.parametrize("where", ["scene-folder", "scene-target-folder", "data-root", "notes-folder",
                                   "another-run", "a-file"])
def test_a_refused_out_gets_nothing_written_not_even_a_lock(where, tmp_path, tiny_data, base_run, run):
    data = copy_tree(tiny_data, tmp_path / "data")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("x")
    other = copy_tree(base_run, tmp_path / "other-run")
    out = {"scene-folder": data / "s1", "scene-target-folder": data / "s1/target", "data-root": data,
           "notes-folder": notes, "another-run": other, "a-file": data / "s1/target/gt.png"}[where]
    before = snapshot(tmp_path)
    extra = ["--set", "radius=3"] if where == "another-run" else []  # another identity than the folder's
    assert_refused(run("evaluate", "--method", "telea", "--data", data, "--out", out, *extra), str(out))
    assert changes(before, snapshot(tmp_path)) == []
    assert not (out / ".realbench.lock").exists() or where == "another-run"


@pytest.mark.parametrize("args", [
    ["--method", "folder:{tmp}/missing"],
    ["--method", "telea", "--metrics", "psnr,nosuchmetric"],
    ["--method", "telea", "--scenes", "s1,nosuchscene"],
    ["--method", "sd-inpaint", "--model", "{tmp}/no-model"],
], ids=["missing-outputs", "unknown-metric", "unknown-scene", "missing-model"])
def test_a_failed_start_leaves_no_folder(args, tmp_path, tiny_data, run):
    out = tmp_path / "run"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert_refused(run("evaluate", "--data", tiny_data, "--out", out, *args))
    assert not out.exists()


def test_an_export_into_a_folder_that_is_not_empty_is_refused(tmp_path, tiny_data, run):
    target = tmp_path / "export"
    target.mkdir()
    (target / "notes.txt").write_text("x")
    before = snapshot(tmp_path)
    assert_refused(run("data", "export", "--data", tiny_data, "--to", target), "not empty")
    assert changes(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize("command", ["evaluate", "leaderboard", "report", "export"])
def test_an_output_path_that_detours_through_a_missing_folder_is_refused(command, tmp_path, tiny_data, base_run,
                                                                        run):
    """``zz/q/../r``: making it would leave ``zz/q`` behind, a folder nothing asked for."""
    detour = tmp_path / "zz" / "q" / ".."
    args = {"evaluate": ["evaluate", "--method", "telea", "--data", tiny_data, "--out", detour / "r"],
            "leaderboard": ["leaderboard", base_run, "--out", detour / "t.md"],
            "report": ["report", base_run, "--out", detour / "p.html"],
            "export": ["data", "export", "--data", tiny_data, "--to", detour / "x"]}[command]
    before = snapshot(tmp_path)
    assert_refused(run(*args), "does not exist", "'..'")
    assert changes(before, snapshot(tmp_path)) == []


def test_an_export_rerun_says_nothing_to_do_and_another_format_is_refused(tmp_path, tiny_data, run):
    target = tmp_path / "export"
    assert_ok(run("data", "export", "--data", tiny_data, "--to", target, "--format", "arrow"))
    before = snapshot(tmp_path)
    again = run("data", "export", "--data", tiny_data, "--to", target, "--format", "arrow")
    assert_ok(again)
    assert "nothing to do" in again.err and "wrote" not in again.out
    assert_refused(run("data", "export", "--data", tiny_data, "--to", target), "as arrow (not parquet)")
    assert changes(before, snapshot(tmp_path)) == []


# ------------------------------------------------------------------ --version never touches a checkout (root cause 15)

@pytest.fixture
def git_calls(monkeypatch):
    """Every git command realbench runs (through subprocess.run), recorded and still run."""
    provenance = first_module("realbench.core.provenance", "realbench.provenance")
    calls: list[list[str]] = []
    real = subprocess.run

    def spy(args, *rest, **kwargs):
        if args and str(args[0]).endswith("git"):
            calls.append([str(a) for a in args])
        return real(args, *rest, **kwargs)

    provenance.git_hash.cache_clear()
    monkeypatch.setattr(subprocess, "run", spy)
    yield calls
    provenance.git_hash.cache_clear()


def _writes_no_lock(call: list[str]) -> bool:
    """Read-only git: ``rev-parse``, or ``status`` with ``--no-optional-locks`` (which never writes
    ``.git/index.lock``)."""
    return "rev-parse" in call or ("status" in call and "--no-optional-locks" in call[: call.index("status")])


@pytest.mark.parametrize("args", [["--help"], ["data", "--help"], ["evaluate", "--help"], ["metrics"],
                                  ["benchmarks"]])
def test_help_and_listings_never_run_git(args, git_calls, run):
    result = run(*args)
    assert result.code == 0, result
    assert git_calls == []


def test_version_reads_git_without_taking_its_lock(git_calls, run):
    result = run("--version")
    assert result.code == 0 and result.out.startswith("realbench "), result
    assert all(_writes_no_lock(call) for call in git_calls), git_calls


def test_a_run_records_git_without_taking_its_lock(git_calls, tmp_path, tiny_data, run):
    assert_ok(run("evaluate", "--method", "telea", "--data", tiny_data, "--out", tmp_path / "run"))
    assert all(_writes_no_lock(call) for call in git_calls), git_calls


# ------------------------------------------------------------------ killed at an exact point, then rerun

def test_a_killed_unpack_is_cleaned_by_the_next_run(killed, tiny_data, monkeypatch, run):
    assert leftovers(killed["unpack"]), "the kill left no temp folder: the fault point moved"
    monkeypatch.setenv("REALBENCH_CACHE", str(killed["unpack"]))
    resumed = run("data", "info", "--data", killed["archive"])
    assert_ok(resumed)
    assert leftovers(killed["unpack"]) == []
    assert resumed.out.splitlines()[1:] == run("data", "info", "--data", tiny_data).out.splitlines()[1:]


def _stable_records(folder: Path) -> list[dict]:
    records = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    return sorted(({k: v for k, v in r.items() if k not in ("time", "seconds")} for r in records),
                  key=lambda r: (r["scene"], r["sample"]))


def test_a_killed_merge_leaves_nothing_its_rerun_trips_over(killed, tmp_path, shards, run):
    assert leftovers(killed["merge"]), "the kill left no staging folder: the fault point moved"
    assert not (killed["merge"] / "merged").exists()
    assert_ok(run("merge", *shards, "--out", killed["merge"] / "merged"))
    assert leftovers(killed["merge"]) == []
    assert_ok(run("merge", *shards, "--out", tmp_path / "uninterrupted"))
    assert _stable_records(killed["merge"] / "merged") == _stable_records(tmp_path / "uninterrupted")
    mine = json.loads((killed["merge"] / "merged/run.json").read_text())
    theirs = json.loads((tmp_path / "uninterrupted/run.json").read_text())
    assert {k: v for k, v in mine.items() if k != "created"} == {k: v for k, v in theirs.items() if k != "created"}


def test_a_merge_killed_after_its_folder_was_complete_can_be_rerun(killed, shards, run):
    merged = killed["merged"] / "merged"
    assert (merged / "run.json").is_file(), "the kill came before the rename: the fault point moved"
    before = _stable_records(merged)
    assert_ok(run("merge", *shards, "--out", merged))
    assert _stable_records(merged) == before


def test_a_killed_report_leaves_nothing_its_rerun_trips_over(killed, shards, run):
    assert leftovers(killed["report"]), "the kill left no staging folder: the fault point moved"
    assert not (killed["report"] / "page.html").exists()
    assert_ok(run("report", shards[0], "--out", killed["report"] / "page.html", "--no-self-contained"))
    assert leftovers(killed["report"]) == []
    assert (killed["report"] / "page_files").is_dir()


@pytest.fixture(scope="session")
def export_rerun(killed, tiny_data):
    """The killed export run again, to the same folder."""
    from .conftest import _run_cli

    assert leftovers(killed["export"]), "the kill left no temp folder: the fault point moved"
    return _run_cli("data", "export", "--data", tiny_data, "--to", killed["export"] / "exported")


def test_a_killed_export_reruns_and_loads_as_the_same_data(killed, export_rerun, tiny_data, run):
    assert_ok(export_rerun)
    exported = run("data", "info", "--data", killed["export"] / "exported")
    assert_ok(exported)
    assert exported.out.splitlines()[1:] == run("data", "info", "--data", tiny_data).out.splitlines()[1:]


def test_a_killed_export_leaves_nothing_behind_after_its_rerun(killed, export_rerun):
    assert_ok(export_rerun)
    assert leftovers(killed["export"]) == []
