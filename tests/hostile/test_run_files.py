"""Issue 19, root causes 6, 7, 8 (manifests, baselines), 10 (merge) and 11 (rescoring): run files
are typed. A record or run.json field of the wrong type, a non-finite number, a missing field, a
manifest or baseline that is not what it claims: every reader (leaderboard, report, compare,
check, merge, a resumed evaluate) refuses it with one line naming the file (and the line); so does
a duplicate JSON key, a metric value outside its metric's range or beyond 1e12 (the largest values
average without overflowing), and a record contradicting run.json (another scene, configuration,
method or content) or an earlier record of its sample. A baseline cell that is no finite number,
an empty or truncated row and two rows of one run and split are refused naming the row. Shards of
different data never merge, and a stored image that changed is never rescored or merged as if it
were the recorded one."""
from __future__ import annotations

import copy
import csv
import io
import json
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
    "ssim-past-its-range": (("metrics", "ssim"), 5.0),
    "psnr-negative": (("metrics", "psnr"), -3.0),
    "psnr-near-the-float-limit": (("metrics", "psnr"), 1.7e308),
    "scene-not-in-the-run": (("scene",), "ghost"),
    "sample-past-any-count": (("sample",), 10**30),
    "sample-past-the-runs-count": (("sample",), 1),  # a deterministic method: one sample per scene
    "task-of-another-kind": (("task",), "swap"),  # the other task than the scene's
    "seed-off-the-runs-rule": (("seed",), 5),
    "image-of-another-scene": (("image",), "other"),  # the second scene's image
    "config-hash-of-another-run": (("config_hash",), "000000000000"),
    "method-of-another-run": (("method",), "oracle"),
    "scene-checksum-of-other-data": (("scene_checksum",), "0123456789abcdef"),
}


@pytest.mark.parametrize("case", list(RECORD_FIELDS))
def test_a_record_of_the_wrong_shape_is_refused_by_every_reader(case, tmp_path, run_copy, base_run, baseline_csv, run):
    path, value = RECORD_FIELDS[case]
    tampered = run_copy()
    records = _records(tampered)
    if value == "swap":
        value = "inpaint" if records[0]["task"] == "outpaint" else "outpaint"
    elif value == "other":
        value = records[1]["image"]
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
    ((1e12, 1e12), 1e12), ((1e12, 12.5), 5e11 + 6.25),
])
def test_the_largest_values_average_without_overflow(values, expected, tmp_path, run_copy, base_run, run):
    """psnr of s1 and s2 set to ``values`` (at most 1e12, the largest magnitude a metric value may
    have): the mean over scenes is that number in CSV, JSON and on the terminal (never inf), and
    the report and a comparison are made."""
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
    assert overall == pytest.approx(expected, rel=1e-12)
    with open(tmp_path / "t.csv", newline="") as handle:
        csv_all = next(r for r in csv.DictReader(handle) if r["split"] == "all")
    assert float(csv_all["psnr"]) == pytest.approx(overall, rel=1e-12)
    assert " inf " not in result.out and "—" not in result.out
    compared = run("compare", base_run, tampered)
    assert_ok(compared)
    assert "inf" not in compared.out
    assert_ok(run("report", tampered, "--out", tmp_path / "report.html"))


@pytest.mark.parametrize("value", [1e308, 1.7e308, -1e308, 1e13])
def test_values_beyond_any_metric_are_refused_by_every_reader(value, tmp_path, run_copy, base_run, baseline_csv, run):
    """A value no metric produces (beyond 1e12 in magnitude) is damage: every reader refuses it,
    naming the file and line, instead of printing a 309-digit mean or inf."""
    tampered = run_copy()
    records = _records(tampered)
    for record in records:
        record["metrics"]["psnr"] = value
    _write_records(tampered, records)
    for args in _readers(tampered, base_run, baseline_csv, tmp_path / "out"):
        assert_refused(run(*args), "records.jsonl", "line 1", "psnr")


def test_a_value_outside_the_range_run_json_records_for_an_unregistered_metric_is_refused(run_copy, run):
    """A metric no plugin registers here is checked against the range its run recorded."""
    tampered = run_copy()
    meta = json.loads((tampered / "run.json").read_text())
    meta["metric_info"]["mine"] = {**meta["metric_info"]["ssim"], "name": "mine", "range": [0.0, 1.0]}
    (tampered / "run.json").write_text(json.dumps(meta))
    records = _records(tampered)
    records[0]["metrics"]["mine"] = 0.5
    records[1]["metrics"]["mine"] = 1.5
    _write_records(tampered, records)
    assert_refused(run("leaderboard", tampered), "records.jsonl", "line 2", "'mine'", "range [0, 1]")


def test_a_record_naming_a_key_twice_is_refused(tmp_path, run_copy, base_run, baseline_csv, run):
    """``{"metrics": {...}, ..., "metrics": {...}}``: JSON parsers disagree on which one wins."""
    tampered = run_copy()
    lines = (tampered / "records.jsonl").read_text().splitlines()
    lines[1] = lines[1][:-1] + ', "metrics": {"psnr": 99.0}}'
    (tampered / "records.jsonl").write_text("\n".join(lines) + "\n")
    for args in _readers(tampered, base_run, baseline_csv, tmp_path / "out"):
        assert_refused(run(*args), "records.jsonl", "line 2", "'metrics'", "twice")


def test_a_run_json_naming_a_key_twice_is_refused(run_copy, run):
    tampered = run_copy()
    text = (tampered / "run.json").read_text()
    assert text.startswith("{\n")
    (tampered / "run.json").write_text('{\n  "label": "other",\n' + text[2:])
    assert_refused(run("leaderboard", tampered), "run.json", "line", "'label'", "twice")


@pytest.mark.parametrize("same_checksum", [False, True], ids=["as-it-was", "checksum-copied"])
def test_a_record_relabelled_to_another_scene_is_refused(same_checksum, tmp_path, run_copy, base_run, baseline_csv,
                                                         run):
    """s2's record renamed s1: a second record of (s1, 0) describing another image is no rescoring."""
    tampered = run_copy()
    records = _records(tampered)
    first, second = records
    second["scene"] = first["scene"]
    if same_checksum:
        second["scene_checksum"] = first["scene_checksum"]
    _write_records(tampered, records)
    for args in _readers(tampered, base_run, baseline_csv, tmp_path / "out"):
        assert_refused(run(*args), "records.jsonl", "line 2", *([] if same_checksum else ["content"]))


def test_a_rescoring_record_of_the_same_image_is_the_one_used(run_copy, run, tmp_path):
    """What rescoring appends (the same sample and image, new values) loads, and the last one wins."""
    tampered = run_copy()
    records = _records(tampered)
    again = copy.deepcopy(records[0])
    again["metrics"]["psnr"] = 42.0
    _write_records(tampered, [*records, again])
    table = tmp_path / "t.json"
    assert_ok(run("leaderboard", tampered, "--out", table))
    scores = {r["scene"]: r["metrics"]["psnr"] for r in [records[1], again]}
    overall = next(r for r in json.loads(table.read_text()) if r["split"] == "all")["psnr"]
    assert overall == pytest.approx(sum(scores.values()) / 2)


@pytest.mark.parametrize("case", ["scene-not-in-the-run", "config-hash-of-another-run", "ssim-past-its-range"])
def test_a_resumed_run_refuses_records_that_contradict_run_json(case, run_copy, run):
    path, value = RECORD_FIELDS[case]
    tampered = run_copy()
    records = _records(tampered)
    _assign(records[0], path, value)
    _write_records(tampered, records)
    before = (tampered / "records.jsonl").read_bytes()
    spec = json.loads((tampered / "run.json").read_text())["data"]["spec"]
    assert_refused(run("evaluate", "--method", "telea", "--data", spec, "--out", tampered), "records.jsonl", "line 1")
    assert (tampered / "records.jsonl").read_bytes() == before


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
    ("psnr", "check", ("psnr", "not a finite number")),
    ("ssim", "1e309x", ("ssim",)),
    ("scenes", "many", ("scenes",)),
    ("protocols", "psnr=vX", ("protocol",)),
    ("psnr", "inf", ("psnr", "'inf'", "row 2")),
    ("ssim", "1e999", ("ssim", "'1e999'", "row 2")),
    ("psnr", "-Infinity", ("psnr", "row 2")),
    ("ssim", "nan", ("ssim", "row 2")),
    ("psnr", "", ("psnr", "empty", "row 2")),
    ("scenes", "", ("scenes", "row 2")),
    ("scenes", "1.5", ("scenes", "row 2")),
    ("run", "", ("run", "row 2")),
], ids=["psnr-a-word", "ssim-junk", "scenes-a-word", "protocols-junk", "psnr-inf", "ssim-1e999", "psnr-minus-inf",
        "ssim-nan", "psnr-empty", "scenes-empty", "scenes-fractional", "run-empty"])
def test_a_baseline_with_a_non_numeric_cell_is_refused(column, value, needles, tmp_path, base_run, baseline_csv, run):
    baseline = _edit_csv(baseline_csv, tmp_path / "baseline.csv", column, value)
    assert_refused(run("check", base_run, "--baseline", baseline), "baseline.csv", *needles)


def test_a_baseline_with_a_truncated_row_is_refused(tmp_path, base_run, baseline_csv, run):
    lines = baseline_csv.read_text().splitlines()
    lines[1] = ",".join(lines[1].split(",")[:4])
    baseline = tmp_path / "baseline.csv"
    baseline.write_text("\n".join(lines) + "\n")
    assert_refused(run("check", base_run, "--baseline", baseline), "baseline.csv", "row 2", "4 cells")


def test_a_baseline_with_two_rows_for_one_run_and_split_is_refused(tmp_path, base_run, baseline_csv, run):
    lines = baseline_csv.read_text().splitlines()
    baseline = tmp_path / "baseline.csv"
    baseline.write_text("\n".join([*lines, lines[1]]) + "\n")
    assert_refused(run("check", base_run, "--baseline", baseline), "baseline.csv", f"rows 2 and {len(lines) + 1}")


def test_a_baseline_naming_a_column_twice_is_refused(tmp_path, base_run, baseline_csv, run):
    lines = baseline_csv.read_text().splitlines()
    baseline = tmp_path / "baseline.csv"
    baseline.write_text("\n".join([lines[0].replace("ssim", "psnr"), *lines[1:]]) + "\n")
    assert_refused(run("check", base_run, "--baseline", baseline), "baseline.csv", "column 'psnr' twice")


def test_a_baseline_leaves_a_cell_empty_for_a_metric_never_asked_for(tmp_path, base_run, baseline_csv, run):
    """The one legitimate empty metric cell: a row whose run neither scored nor missed the metric."""
    rows = list(csv.DictReader(io.StringIO(baseline_csv.read_text())))
    for row in rows:
        row["ssim"] = ""
        row["protocols"] = ";".join(p for p in row["protocols"].split(";") if not p.startswith("ssim"))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    baseline = tmp_path / "baseline.csv"
    baseline.write_text(buffer.getvalue())
    result = run("check", base_run, "--baseline", baseline)
    assert "error:" not in result.err and result.code in (1, 3), result  # compared, not refused


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
