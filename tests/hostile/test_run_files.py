"""Issue 19, root causes 6, 7, 8 (manifests, baselines), 10 (merge) and 11 (rescoring): run files
are typed. A record or run.json field of the wrong type, a non-finite number, a missing field, a
manifest or baseline that is not what it claims: every reader (leaderboard, report, compare,
check, merge, a resumed evaluate) refuses it with one line naming the file (and the line). Values
near the float limit average without overflowing. Shards of different data never merge, and a
stored image that changed is never rescored or merged as if it were the recorded one."""
from __future__ import annotations

import copy
import csv
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ._support import assert_ok, assert_refused, changes, copy_tree, leftovers, snapshot, sparse

MISSING = object()


@pytest.fixture(scope="session")
def baseline_csv(tmp_path_factory, base_run) -> Path:
    from .conftest import _run_cli

    out = tmp_path_factory.mktemp("baseline") / "telea-tiny.csv"
    assert_ok(_run_cli("leaderboard", base_run, "--out", out))
    return out


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


def _write_records(run_dir: Path, records: list[dict]) -> None:
    (run_dir / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _assign(obj: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        obj = obj[key]
    if value is MISSING:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


def _readers(run_dir: Path, base: Path, baseline: Path, out: Path) -> list[list]:
    """Every command that reads a run folder (the tampered run second in ``compare``)."""
    return [["leaderboard", run_dir], ["report", run_dir, "--out", out / "report.html"], ["compare", base, run_dir],
            ["check", run_dir, "--baseline", baseline]]


RECORD_FIELDS = {
    "metric-a-string": (("metrics", "psnr"), "x"),
    "metric-a-list": (("metrics", "psnr"), [1]),
    "metric-true": (("metrics", "psnr"), True),
    "metrics-a-list": (("metrics",), []),
    "metrics-a-string": (("metrics",), "psnr"),
    "info-a-string": (("info",), "x"),
    "seed-a-string": (("seed",), "3"),
    "sample-negative": (("sample",), -1),
    "sample-fractional": (("sample",), 0.5),
    "protocol-version-a-string": (("metric_protocols", "psnr", "version"), "2"),
    "protocol-a-number": (("metric_protocols", "psnr"), 7),
    "no-image": (("image",), MISSING),
    "no-task": (("task",), MISSING),
    "task-unknown": (("task",), "sideways"),
    "no-scene": (("scene",), MISSING),
    "scene-a-path": (("scene",), "../../etc"),
    "scene-with-a-newline": (("scene",), "s1\nfake"),
    "correspondences-negative": (("correspondences",), -5),
    "metric-errors-a-list": (("metric_errors",), ["x"]),
    "versions-a-number": (("versions",), 5),
    "record-version-from-the-future": (("record_version",), 99),
}


@pytest.mark.parametrize("case", list(RECORD_FIELDS))
def test_a_record_of_the_wrong_shape_is_refused_by_every_reader(case, tmp_path, run_copy, base_run, baseline_csv, run):
    path, value = RECORD_FIELDS[case]
    tampered = run_copy()
    records = _records(tampered)
    _assign(records[0], path, value)
    _write_records(tampered, records)
    before = snapshot(tmp_path)
    for args in _readers(tampered, base_run, baseline_csv, tmp_path / "out"):
        assert_refused(run(*args), "records.jsonl", "line 1")
    assert changes(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize("line", [
    '{"metrics": {"psnr": NaN}}', '{"metrics": {"psnr": Infinity}}', "[1, 2]", '"a record"', "{oops",
    "[" * 100_000 + "]" * 100_000, "\ufeff{}",
], ids=["nan", "infinity", "a-list", "a-string", "not-json", "deep-nesting", "bom"])
def test_a_line_that_is_no_record_is_refused(line, tmp_path, run_copy, run):
    tampered = run_copy()
    text = (tampered / "records.jsonl").read_text()
    (tampered / "records.jsonl").write_text(text + line + "\n")
    assert_refused(run("leaderboard", tampered), "records.jsonl", "line 3")
    assert_refused(run("evaluate", "--method", "telea", "--data", json.loads((tampered / "run.json").read_text())
                       ["data"]["spec"], "--out", tampered), "records.jsonl")


def test_a_line_longer_than_any_record_is_refused_without_reading_it_whole(tmp_path, run_copy, run):
    tampered = run_copy()
    with open(tampered / "records.jsonl", "a") as handle:
        handle.write('{"x": "' + "a" * (5 * 2**20) + '"}\n')
    assert_refused(run("leaderboard", tampered), "records.jsonl", "line 3")


def test_a_torn_last_line_is_what_a_kill_leaves_and_is_ignored(run_copy, base_run, run):
    tampered = run_copy()
    with open(tampered / "records.jsonl", "a") as handle:
        handle.write('{"scene": "s1", "sam')
    assert_ok(run("leaderboard", tampered))


@pytest.mark.parametrize("values, expected", [
    ((1e308, 1e308), 1e308), ((1.7e308, 1.7e308), 1.7e308), ((-1e308, 1e308), 0.0), ((1e308, 12.5), 5e307),
])
def test_values_near_the_float_limit_average_without_overflow(values, expected, tmp_path, run_copy, run):
    """psnr of s1 and s2 set to ``values``: the mean over scenes is finite (never inf), CSV and
    JSON read back as that number, and the terminal shows a number, not '—' or 'inf'."""
    tampered = run_copy()
    records = _records(tampered)
    for record, value in zip(sorted(records, key=lambda r: r["scene"]), values):
        record["metrics"]["psnr"] = value
    _write_records(tampered, records)
    table = tmp_path / "t.json"
    result = run("leaderboard", tampered, "--out", table, "--out", tmp_path / "t.csv")
    assert_ok(result)
    rows = json.loads(table.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in strict JSON"))
    overall = next(r for r in rows if r["split"] == "all")["psnr"]
    assert overall is not None and math.isfinite(overall)
    assert overall == pytest.approx(expected, rel=1e-12)
    assert overall == pytest.approx(math.fsum(v / len(values) for v in values), rel=1e-12)
    with open(tmp_path / "t.csv", newline="") as handle:
        csv_all = next(r for r in csv.DictReader(handle) if r["split"] == "all")
    assert float(csv_all["psnr"]) == pytest.approx(overall, rel=1e-9, abs=1e-300)
    assert " inf " not in result.out and "—" not in result.out


RUN_FIELDS = {
    "no-data": (("data",), MISSING),
    "metrics-a-number": (("metrics",), 5),
    "metrics-nested": (("metrics",), [["psnr"]]),
    "config-hash-null": (("config_hash",), None),
    "shard-x": (("shard",), "x"),
    "shard-past-its-count": (("shard",), "3/2"),
    "splits-a-string": (("benchmark", "splits"), "all"),
    "schema-from-the-future": (("schema",), 99),
    "label-a-number": (("label",), 5),
    "seed-a-string": (("seed",), "0"),
    "scene-checksums-a-list": (("data", "scene_checksums"), ["s1"]),
    "scene-id-a-path": (("data", "scene_checksums"), {"../x": "0"}),
    "all-scenes-a-string": (("data", "all_scenes"), "s1"),
    "unavailable-a-list": (("unavailable",), ["psnr"]),
    "metric-range-a-string": (("metric_info", "psnr", "range"), "0..100"),
    "direction-missing": (("metric_info", "psnr", "higher_is_better"), MISSING),
    "id-order-unknown": (("benchmark", "id_order"), "shuffled"),
    "git-a-number": (("git",), 5),
    "max-refs-zero": (("max_refs",), 0),
    "merged-from-a-string": (("merged_from",), "a"),
}



@pytest.mark.parametrize("case", list(RUN_FIELDS))
def test_a_run_json_of_the_wrong_shape_is_refused_by_every_reader(case, tmp_path, run_copy, base_run, baseline_csv,
                                                                   run):
    path, value = RUN_FIELDS[case]
    tampered = run_copy()
    meta = json.loads((tampered / "run.json").read_text())
    _assign(meta, path, value)
    (tampered / "run.json").write_text(json.dumps(meta))
    before = snapshot(tmp_path)
    for args in _readers(tampered, base_run, baseline_csv, tmp_path / "out"):
        assert_refused(run(*args), "run.json")
    assert changes(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize("text", ["{", "[]", '"run"', "", "\xff"],
                         ids=["torn", "a-list", "a-string", "empty", "latin1"])
def test_a_run_json_that_is_no_json_object_is_refused(text, run_copy, run):
    tampered = run_copy()
    (tampered / "run.json").write_bytes(text.encode("latin-1"))
    assert_refused(run("leaderboard", tampered), "run.json")


@pytest.mark.parametrize("reported", [["../../../../../../../../etc/hostname"], ["/etc/hostname"], [5], "x.csv"],
                         ids=["parent-path", "absolute-path", "a-number", "a-string"])
def test_reported_rows_are_only_read_from_the_papers_folder(reported, run_copy, run):
    tampered = run_copy()
    meta = json.loads((tampered / "run.json").read_text())
    meta["benchmark"]["reported"]["table1"] = reported
    (tampered / "run.json").write_text(json.dumps(meta))
    assert_refused(run("leaderboard", tampered, "--with-paper"), "run.json")


# ------------------------------------------------------------------ manifests and baselines

@pytest.mark.parametrize("manifest, needles", [
    ('{"scenes": ["s1", "s2"]}', ("manifest", "list")),
    ('{"scenes": {"s1": {"task": "sideways"}}}', ("sideways",)),
    ('{"scenes": {"s1": {"task": ["inpaint"]}}}', ("task",)),
    ('["s1"]', ("manifest",)),
    ("{", ("manifest",)),
    (None, ("manifest",)),  # 6 GB, sparse
], ids=["scenes-a-list", "task-unknown", "task-a-list", "a-list", "not-json", "sparse-6GB"])
def test_a_manifest_that_is_not_one_is_refused(manifest, needles, tmp_path, tiny_data, run):
    data = copy_tree(tiny_data, tmp_path / "data")
    if manifest is None:
        sparse(data / "manifest.json", 6 * 2**30, b"{")
    else:
        (data / "manifest.json").write_text(manifest)
    assert_refused(run("evaluate", "--method", "telea", "--data", data, "--out", tmp_path / "run"), *needles)
    assert not (tmp_path / "run").exists()


def _edit_csv(source: Path, target: Path, column: str, value: str) -> Path:
    rows = list(csv.DictReader(io.StringIO(source.read_text())))
    rows[0][column] = value
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    target.write_text(buffer.getvalue())
    return target


@pytest.mark.parametrize("column, value, needles", [
    ("psnr", "check", ("psnr", "not a number")),
    ("ssim", "1e309x", ("ssim",)),
    ("scenes", "many", ("scenes",)),
    ("protocols", "psnr=vX", ("protocol",)),
], ids=["psnr-a-word", "ssim-junk", "scenes-a-word", "protocols-junk"])
def test_a_baseline_with_a_non_numeric_cell_is_refused(column, value, needles, tmp_path, base_run, baseline_csv, run):
    baseline = _edit_csv(baseline_csv, tmp_path / "baseline.csv", column, value)
    assert_refused(run("check", base_run, "--baseline", baseline), *needles)


@pytest.mark.parametrize("make", [lambda tmp: "/dev/zero", lambda tmp: sparse(tmp / "b.csv", 6 * 2**30, b"run,"),
                                  lambda tmp: tmp], ids=["dev-zero", "sparse-6GB", "a-folder"])
def test_a_baseline_that_is_no_table_is_refused_without_reading_it(make, tmp_path, base_run, run):
    assert_refused(run("check", base_run, "--baseline", make(tmp_path)), "baseline")


# ------------------------------------------------------------------ merge (root cause 10)

def _other_content(tiny_data: Path, target: Path) -> Path:
    """The same scene ids with one ground-truth pixel of s2 changed."""
    data = copy_tree(tiny_data, target)
    gt = np.asarray(Image.open(data / "s2/target/gt.png")).copy()
    gt[0, 0] = 255 - gt[0, 0]
    Image.fromarray(gt).save(data / "s2/target/gt.png")
    return data


def test_shards_made_on_different_content_never_merge(tmp_path, tiny_data, shards, run):
    other = _other_content(tiny_data, tmp_path / "data")  # the same name and scene ids, other pixels
    second = tmp_path / "telea-data-shard-2of2"
    assert_ok(run("evaluate", "--method", "telea", "--data", other, "--shard", "2/2", "--out", second))
    out = tmp_path / "merged"
    assert_refused(run("merge", shards[0], second, "--out", out), "content")
    assert not out.exists() and leftovers(tmp_path) == []


def test_shards_that_disagree_on_a_scene_never_merge(tmp_path, tiny_data, shards, run):
    """Two copies of shard 2 (scene s2), one made on other pixels: the content check fires."""
    other = _other_content(tiny_data, tmp_path / "data")
    second = tmp_path / "telea-data-shard-2of2"
    assert_ok(run("evaluate", "--method", "telea", "--data", other, "--shard", "2/2", "--out", second))
    out = tmp_path / "merged"
    assert_refused(run("merge", shards[1], second, "--out", out), "different data")
    assert not out.exists()


def test_a_shard_whose_image_is_a_symbolic_link_is_refused(tmp_path, shards, run):
    first = copy_tree(shards[0], tmp_path / "shard-1of2")
    image = next((first / "images").rglob("*.png"))
    image.unlink()
    image.symlink_to("/etc/hostname")
    out = tmp_path / "merged"
    assert_refused(run("merge", first, shards[1], "--out", out), "symbolic link")
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_shard_whose_image_changed_is_refused(tmp_path, shards, run):
    first = copy_tree(shards[0], tmp_path / "shard-1of2")
    image = next((first / "images").rglob("*.png"))
    pixels = np.asarray(Image.open(image)).copy()
    pixels[0, 0] ^= 0xFF
    Image.fromarray(pixels).save(image)
    out = tmp_path / "merged"
    assert_refused(run("merge", first, shards[1], "--out", out), str(image))
    assert not out.exists()


def test_a_merge_into_a_folder_that_is_not_empty_is_refused(tmp_path, shards, run):
    out = tmp_path / "merged"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    assert_refused(run("merge", *shards, "--out", out), "not empty")
    assert changes(before, snapshot(tmp_path)) == []


def test_the_same_shard_twice_is_refused(tmp_path, shards, run):
    twin = copy_tree(shards[0], tmp_path / "twin")
    assert_refused(run("merge", shards[0], twin, "--out", tmp_path / "merged"), "same shard")
    assert not (tmp_path / "merged").exists()


# ------------------------------------------------------------------ rescoring (root cause 11)

@pytest.mark.parametrize("tamper", ["pixels", "bomb-header", "symbolic-link"])
def test_a_stored_image_that_changed_is_never_rescored(tamper, tmp_path, tiny_data, run):
    out = tmp_path / "run"
    assert_ok(run("evaluate", "--method", "telea", "--data", tiny_data, "--metrics", "psnr", "--out", out))
    image = out / _records(out)[-1]["image"]
    if tamper == "pixels":
        pixels = np.asarray(Image.open(image)).copy()
        pixels[3, 3] ^= 0x10
        Image.fromarray(pixels).save(image)
    elif tamper == "bomb-header":
        from ._support import bomb_png

        image.write_bytes(bomb_png())
    else:
        shutil.copy(image, tmp_path / "elsewhere.png")
        image.unlink()
        image.symlink_to(tmp_path / "elsewhere.png")
    recorded = copy.deepcopy(_records(out))
    error = assert_refused(run("evaluate", "--method", "telea", "--data", tiny_data, "--metrics", "psnr,ssim",
                               "--out", out))
    assert str(image) in error
    changed = [r for r in _records(out) if r["image"] == recorded[-1]["image"]]
    assert all("ssim" not in r["metrics"] for r in changed)  # its record was not rescored
