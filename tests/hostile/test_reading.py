"""Issue 19, root causes 7 and 8 (bounded reading): no file is read whole before its size and
header are checked, and no read blocks forever. Sparse files of gigabytes (a hole costs no disk),
gigabytes of trailing zeros behind a real JPEG, ``/dev/zero`` and named pipes where realbench
expects an image, a run file or a dataset. The gigabyte cases run in one child process capped
at 3 GiB of address space (a whole-file read is a MemoryError there, not a machine out of
memory); the pipe cases in this process, with a writer that releases any reader that blocked."""
from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest

from ._support import as_result, assert_refused, copy_tree, run_commands, sparse

GiB = 2**30


def _data_with(tiny_data: Path, root: Path, file: str, size: int) -> Path:
    data = copy_tree(tiny_data, root / "data")
    os.truncate(data / file, size)  # the real header, then gigabytes of zeros
    return data


def _folder_outputs(tiny_data: Path, root: Path, size: int) -> Path:
    outputs = root / "outputs"
    for scene in ("s1", "s2"):
        (outputs / scene).mkdir(parents=True)
        (outputs / scene / "0.png").write_bytes((tiny_data / scene / "target/gt.png").read_bytes())
    os.truncate(outputs / "s1/0.png", size)
    return outputs


def _run_with(base_run: Path, root: Path, file: str, size: int | None = None, link: str | None = None) -> Path:
    run = copy_tree(base_run, root / "run")
    if link:
        (run / file).unlink()
        (run / file).symlink_to(link)
    else:
        sparse(run / file, size) if not (run / file).exists() else os.truncate(run / file, size)
    return run


def _cases(tiny_data: Path, base_run: Path, root: Path) -> dict[str, tuple[list, tuple]]:
    """name -> (argv, needles): each built in its own folder below ``root``."""
    def at(name: str) -> Path:
        (root / name).mkdir(parents=True)
        return root / name

    evaluate = ["evaluate", "--method", "telea", "--out"]
    cases = {}
    data = _data_with(tiny_data, at("ref"), "s1/ref/00.jpg", 3 * GiB)
    cases["reference-with-3GB-of-trailing-zeros"] = (evaluate + [str(root / "ref/out"), "--data", str(data)],
                                                     ("s1", "00.jpg", "trailing"))
    data = _data_with(tiny_data, at("target"), "s2/target/target.png", 6 * GiB)
    cases["target-png-6GB"] = (["data", "info", "--data", str(data)], ("s2", "target.png"))
    data = _data_with(tiny_data, at("mask"), "s1/target/mask.png", 6 * GiB)
    cases["mask-png-6GB"] = (evaluate + [str(root / "mask/out"), "--data", str(data)], ("mask.png",))
    outputs = _folder_outputs(tiny_data, at("folder"), 6 * GiB)
    cases["folder-method-image-6GB"] = (["evaluate", "--method", f"folder:{outputs}", "--data", str(tiny_data),
                                         "--out", str(root / "folder/out")], ("0.png",))
    run = _run_with(base_run, at("runjson"), "run.json", 6 * GiB)
    cases["run-json-6GB"] = (["leaderboard", str(run)], ("run.json",))
    run = _run_with(base_run, at("records"), "records.jsonl", 6 * GiB)
    cases["records-6GB-without-a-newline"] = (["leaderboard", str(run)], ("records.jsonl",))
    run = _run_with(base_run, at("zero"), "records.jsonl", link="/dev/zero")
    cases["records-linked-to-dev-zero"] = (["report", str(run), "--out", str(root / "zero/r.html")],
                                           ("records.jsonl",))
    run = _run_with(base_run, at("image"), "images/s2/000.png", 6 * GiB)
    cases["stored-image-6GB-rescored"] = (evaluate + [str(run), "--data", str(tiny_data), "--metrics",
                                                      "psnr,ssim,ssim_opencv"], ("000.png",))
    cases["stored-image-6GB-in-a-report"] = (["report", str(run), "--out", str(root / "image/r.html")],
                                             ("000.png",))
    zipped = sparse(at("zip") / "data.zip", 6 * GiB, b"PK\x03\x04")
    cases["zip-6GB"] = (["data", "info", "--data", str(zipped)], ("data.zip",))
    config = sparse(at("config") / "c.yaml", 6 * GiB, b"radius: 3\n")
    cases["config-6GB"] = (evaluate + [str(root / "config/out"), "--config", str(config)], ("c.yaml",))
    manifest = copy_tree(tiny_data, at("manifest") / "data")
    sparse(manifest / "manifest.json", 6 * GiB, b"{")
    cases["manifest-6GB"] = (["data", "info", "--data", str(manifest)], ("manifest",))
    cases["baseline-6GB"] = (["check", str(base_run), "--baseline",
                              str(sparse(at("baseline") / "b.csv", 6 * GiB, b"run,"))], ("baseline",))
    return cases


@pytest.fixture(scope="session")
def bounded_results(tmp_path_factory, tiny_data, base_run) -> dict[str, tuple]:
    """Every gigabyte case, run once in one memory-capped child."""
    root = tmp_path_factory.mktemp("bounded")
    cases = _cases(tiny_data, base_run, root)
    started = time.perf_counter()
    results = run_commands([{"argv": argv} for argv, _ in cases.values()], memory=3 * GiB, timeout=120)
    elapsed = time.perf_counter() - started
    return {name: (as_result(result), needles, elapsed) for (name, (_, needles)), result in zip(cases.items(), results)}


CASE_NAMES = ["reference-with-3GB-of-trailing-zeros", "target-png-6GB", "mask-png-6GB", "folder-method-image-6GB",
              "run-json-6GB", "records-6GB-without-a-newline", "records-linked-to-dev-zero",
              "stored-image-6GB-rescored", "stored-image-6GB-in-a-report", "zip-6GB", "config-6GB", "manifest-6GB",
              "baseline-6GB"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_gigabyte_file_is_refused_from_its_size_or_header(case, bounded_results):
    result, needles, elapsed = bounded_results[case]
    assert_refused(result, *needles)
    assert elapsed < 60  # reading any of them whole would take minutes (or fail the cap)


# ------------------------------------------------------------------ reads that would block forever

@contextlib.contextmanager
def pipe_watch(path: Path):
    """Make ``path`` a named pipe; a thread releases (and reports) any reader blocked on it."""
    os.mkfifo(path)
    blocked, stop = [], threading.Event()

    def release() -> None:
        while not stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only when a reader waits
            except OSError:
                time.sleep(0.05)
                continue
            blocked.append(time.perf_counter())
            os.close(fd)  # the reader sees end of file
            time.sleep(0.05)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield blocked
    finally:
        stop.set()
        thread.join(5)


def _pipe_in_run(run_copy, file: str) -> Path:
    run = run_copy()
    (run / file).unlink()
    return run


def test_records_that_are_a_named_pipe_never_block(run_copy, run):
    tampered = _pipe_in_run(run_copy, "records.jsonl")
    with pipe_watch(tampered / "records.jsonl") as blocked:
        result = run("leaderboard", tampered)
    assert not blocked, "a reader blocked on the pipe"
    assert_refused(result, "records.jsonl")


@pytest.mark.parametrize("command", ["report", "rescore"])
def test_a_stored_image_that_is_a_named_pipe_never_blocks(command, tmp_path, run_copy, tiny_data, run):
    tampered = _pipe_in_run(run_copy, "images/s2/000.png")
    args = ["report", tampered, "--out", tmp_path / "r.html"] if command == "report" else \
        ["evaluate", "--method", "telea", "--data", tiny_data, "--metrics", "psnr,ssim_opencv", "--out", tampered]
    with pipe_watch(tampered / "images/s2/000.png") as blocked:
        result = run(*args)
    assert not blocked, "a reader blocked on the pipe"
    assert_refused(result, "000.png")


@pytest.mark.parametrize("where", ["s1/ref/00.jpg", "s1/target/target.png", "s2/target/gt.png"])
def test_a_scene_file_that_is_a_named_pipe_never_blocks(where, tmp_path, tiny_data, run):
    data = copy_tree(tiny_data, tmp_path / "data")
    (data / where).unlink()
    with pipe_watch(data / where) as blocked:
        result = run("evaluate", "--method", "telea", "--data", data, "--out", tmp_path / "run")
    assert not blocked, "a reader blocked on the pipe"
    if where.endswith("00.jpg"):  # the other reference is enough: a pipe is no image, so it is not one of them
        assert result.code == 0, result
    else:
        assert_refused(result, where.split("/")[-1].split(".")[0])


def test_data_info_on_the_root_folder_is_one_error_that_names_no_resume(run):
    started = time.perf_counter()
    error = assert_refused(run("data", "info", "--data", "/"))
    assert "rerun" not in error and "resume" not in error
    assert time.perf_counter() - started < 20
