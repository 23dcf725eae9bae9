"""Issue 19, root cause 1: zip archives unpacked without limits. Every hostile zip is refused
with one error naming it, from its table of contents where that suffices, and leaves nothing in
the cache but its lock file: no unpacked folder, no temp folder. A legitimate zip still loads,
and gives the same scenes (by content) as its folder."""
from __future__ import annotations

import zipfile

import pytest

from ._support import (
    assert_ok,
    assert_refused,
    changes,
    corrupt_entry_data,
    leftovers,
    patch_zip,
    snapshot,
    zip_folder,
)

MiB = 2**20


def _unpacked(cache) -> list[str]:
    """What the cache holds besides lock files."""
    archives = cache / "archives"
    if not archives.is_dir():
        return []
    return sorted(p.name for p in archives.iterdir() if not p.name.endswith(".lock"))


def _scores(run_dir) -> list[tuple]:
    import csv

    with open(run_dir / "summary.csv", newline="") as handle:
        return [(row["scene"], row["psnr"], row["ssim"]) for row in csv.DictReader(handle)]


def _is_gt(name: str) -> bool:
    return name.endswith("s1/target/gt.png")


def _zeros(n: int) -> bytes:
    return b"\0" * n


BUILDERS = {
    # one entry of zeros inflating ~1000x: refused from its header
    "bomb-one-entry": (lambda z, d: zip_folder(z, d, after=[("RealBench/junk.bin", _zeros(8 * MiB))]),
                       ("inflates", "--archive-limit")),
    "two-entries-same-name": (lambda z, d: zip_folder(z, d, after=[("RealBench/s1/target/gt.png", b"x")]),
                              ("two entries", "s1/target/gt.png")),
    "encrypted-entry": (lambda z, d: patch_zip(zip_folder(z, d), _is_gt, flags=0x1), ("encrypted",)),
    "encrypted-central-only": (lambda z, d: patch_zip(zip_folder(z, d), _is_gt, flags=0x1, local=False),
                               ("encrypted",)),
    "unknown-compression-method": (lambda z, d: patch_zip(zip_folder(z, d), _is_gt, method=99),
                                   ("compression method 99",)),
    "corrupt-deflate-stream": (lambda z, d: corrupt_entry_data(zip_folder(z, d), _is_gt),
                               ("damaged", "entry 'RealBench/s1/target/gt.png'")),
    "entry-2000-folders-deep": (lambda z, d: zip_folder(z, d, after=[("RealBench/" + "d/" * 2000 + "x.png", b"x")]),
                                ("nested 2001 folders deep", "limit", "RealBench/d/d/")),
    "two-entries-nfc-and-nfd": (lambda z, d: zip_folder(z, d, after=[("RealBench/caf\u00e9/x.png", b"x"),
                                                                      ("RealBench/cafe\u0301/x.png", b"y")]),
                                ("two entries",)),
    "corrupt-stored-entry": (lambda z, d: corrupt_entry_data(zip_folder(z, d, method=zipfile.ZIP_STORED), _is_gt),
                             ("damaged",)),
    "header-understates-size": (lambda z, d: patch_zip(zip_folder(z, d), _is_gt, size=10), ()),
    "header-claims-4GiB": (lambda z, d: patch_zip(zip_folder(z, d), _is_gt, size=0xFFFFFFFE), ("inflates",)),
    "truncated-archive": (lambda z, d: z.write_bytes(zip_folder(z, d).read_bytes()[:-200]) and z, ("zip",)),
    "not-a-zip": (lambda z, d: z.write_bytes(b"PK\x03\x04 not really" * 50) and z, ("zip",)),
    "empty-file": (lambda z, d: z.write_bytes(b"") or z, ("zip",)),
    "zip-slip-parent": (lambda z, d: zip_folder(z, d, after=[("../evil.txt", b"x")]), ("outside",)),
    "zip-slip-absolute": (lambda z, d: zip_folder(z, d, after=[(str(z.parent / "evil.txt"), b"x")]), ("outside",)),
    "zip-slip-backslash": (lambda z, d: zip_folder(z, d, after=[("..\\evil.txt", b"x")]), ("outside",)),
    "zip-slip-drive": (lambda z, d: zip_folder(z, d, after=[("C:evil.txt", b"x")]), ("outside",)),
}


@pytest.mark.parametrize("case", list(BUILDERS))
def test_a_hostile_zip_is_refused_and_nothing_stays_in_the_cache(case, tmp_path, tiny_data, cache, run):
    build, needles = BUILDERS[case]
    archive = build(tmp_path / f"{case}.zip", tiny_data)
    before = snapshot(tmp_path, exclude=[cache])
    error = assert_refused(run("data", "info", "--data", archive), *needles)
    assert str(archive) in error
    assert _unpacked(cache) == [] and leftovers(cache) == []
    assert changes(before, snapshot(tmp_path, exclude=[cache])) == []
    assert not (tmp_path.parent / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("alias", ["RealBench/s1//target/gt.png", "./RealBench/s1/target/gt.png",
                                   "RealBench/s1/./target/gt.png"])
def test_two_entries_that_unpack_to_the_same_file_are_refused(alias, tmp_path, tiny_data, cache, run):
    # s2's ground truth under a second spelling of s1's: scored, s1 would be judged against s2
    other_truth = (tiny_data / "s2/target/gt.png").read_bytes()
    archive = zip_folder(tmp_path / "alias.zip", tiny_data, after=[(alias, other_truth)])
    assert_refused(run("data", "info", "--data", archive), "two entries")
    assert _unpacked(cache) == []


def test_a_bomb_split_into_many_small_entries_is_refused(tmp_path, tiny_data, cache, run):
    # 24 entries of exactly 1 MiB of zeros: ~500 times the archive's size once unpacked
    junk = [(f"RealBench/junk/{i:03d}.bin", _zeros(MiB)) for i in range(24)]
    archive = zip_folder(tmp_path / "split-bomb.zip", tiny_data, after=junk)
    assert sum(i.file_size for i in zipfile.ZipFile(archive).infolist()) > 200 * archive.stat().st_size
    assert_refused(run("data", "info", "--data", archive), "--archive-limit")
    assert _unpacked(cache) == []


@pytest.mark.parametrize("limit, needles", [
    ("entries=3", ("entries", "limit 3")),
    ("bytes=10K", ("unpacks to", "KiB (limit 10.0 KiB", "--archive-limit bytes")),
    ("ratio=1.5", None),  # the data's photos are not compressible that much: this limit is no refusal
])
def test_archive_limits_are_enforced_and_named(limit, needles, tmp_path, tiny_data, cache, run):
    archive = zip_folder(tmp_path / "data.zip", tiny_data)
    result = run("data", "info", "--data", archive, "--archive-limit", limit)
    if needles is None:
        assert_ok(result)
        return
    assert_refused(result, *needles)
    assert _unpacked(cache) == []


@pytest.mark.parametrize("limit", ["ratio=nan", "ratio=inf", "bytes=0", "entries=-1", "bytes=1e400", "foo=1",
                                   "entries=0.5", "bytes=1G,bytes=2K", "ratio=1e-300", "bytes=1X", "bytes="])
def test_an_archive_limit_that_means_nothing_is_refused(limit, tmp_path, tiny_data, cache, run):
    archive = zip_folder(tmp_path / "data.zip", tiny_data)
    assert_refused(run("data", "info", "--data", archive, "--archive-limit", limit), "--archive-limit")
    assert not (cache / "archives").exists() or _unpacked(cache) == []


def test_sizes_in_an_archive_limit_error_are_in_the_unit_that_shows_them(tmp_path, tiny_data, cache, run):
    """30 MiB of random bytes past ``bytes=20M``: MiB, not "0.0 GiB (limit 0.0 GiB)"."""
    import os

    archive = zip_folder(tmp_path / "data.zip", tiny_data, method=zipfile.ZIP_STORED,
                         after=[("RealBench/noise.bin", os.urandom(30 * MiB))])
    error = assert_refused(run("data", "info", "--data", archive, "--archive-limit", "bytes=20M"), "unpacks to")
    assert "30.0 MiB (limit 20.0 MiB" in error and "GiB" not in error


def _staging(archives, final: str, pid: int) -> object:
    """A staging folder as ``staged_folder`` names and marks it, built by process ``pid``."""
    import json
    import socket

    folder = archives / f".{final}.staging-{socket.gethostname()}-{pid}-abc123"
    folder.mkdir(parents=True)
    (folder / ".realbench-staging").write_text(json.dumps({"host": socket.gethostname(), "pid": pid}))
    (folder / "half.png").write_bytes(b"x" * 1000)
    return folder


def test_opening_any_archive_removes_the_staging_folders_of_killed_unpacks(tmp_path, tiny_data, cache, run):
    """A killed unpack of another archive left its staging folder: the next open of any archive
    removes it (its process is gone), and keeps one whose process still runs."""
    import os
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = _staging(cache / "archives", "other-0123456789abcdef", gone.pid)
    live = _staging(cache / "archives", "third-0123456789abcdef", os.getpid())
    archive = zip_folder(tmp_path / "data.zip", tiny_data)
    assert_ok(run("data", "info", "--data", archive))
    assert not stale.exists() and live.exists()
    stale = _staging(cache / "archives", "other-0123456789abcdef", gone.pid)
    assert_ok(run("data", "info", "--data", archive))  # already unpacked: the open cleans too
    assert not stale.exists() and live.exists()


def test_a_legitimate_zip_of_real_photos_loads_with_the_folders_content(sample_bench, tmp_path, cache, run):
    """The bounds are not too tight: the built-in sample's real photos (scikit-image's), zipped
    as the release is (with macOS metadata), give the same scenes, checksums and numbers as the
    folder."""
    import shutil

    folder = tmp_path / "RealBench"  # two of its scenes, photos as they are
    for scene in (sample_bench["chelsea-defocus"], sample_bench["rocket-style"]):
        shutil.copytree(scene.source["folder"], folder / scene.id)
    archive = zip_folder(tmp_path / "realfill_data_release_full.zip", folder,
                         before=[("__MACOSX/RealBench/._x", b"\0" * 4096), ("RealBench/.DS_Store", b"\0" * 64)])
    zipped, plain = tmp_path / "zipped", tmp_path / "plain"
    assert_ok(run("evaluate", "--method", "telea", "--data", archive, "--out", zipped))
    assert_ok(run("evaluate", "--method", "telea", "--data", folder, "--out", plain))
    assert _scores(zipped) == _scores(plain)
    assert_ok(run("leaderboard", zipped, plain))  # same content: ranked together without --allow-mixed-data
    assert len(_unpacked(cache)) == 1 and leftovers(cache) == []
