"""Every failure is one `error:` line (exit 2) naming the scene and file or the path, before
anything is written: decompression bombs, unreadable configs, impossible --out folders, output
that cannot be written, files that are not what they claim."""
import struct
import zlib

import pytest
from conftest import make_scene

from realbench import RealBenchError, evaluate, load_benchmark
from realbench.cli import main


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG header that claims a huge image (the pixels are never there)."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def _one_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.mark.parametrize("where", ["ref/00.jpg", "target/target.png", "target/mask.png", "target/gt.png"])
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path, where, capsys):
    folder = make_scene(tmp_path / "data", "s1")
    (folder / where).write_bytes(bomb_png())
    out = tmp_path / "run"
    assert main(["evaluate", "--method", "telea", "--data", str(tmp_path / "data"), "--out", str(out)]) == 2
    _one_error(capsys, "scene 's1'", where.split("/")[-1], "30000x30000", "--max-pixels")
    assert not out.exists()
    assert main(["data", "info", "--data", str(tmp_path / "data"), "--max-pixels", "2000000000"]) == 2
    err = capsys.readouterr().err
    assert "30000x30000" not in err and "cannot read image" in err  # the limit was raised; the pixels are not there


def test_a_bomb_in_a_dataset_cell_is_refused_too(tmp_path, capsys):
    from realbench.data.hfdata import scene_from_row

    with pytest.raises(RealBenchError, match="scene 'x'.*30000x30000"):
        scene_from_row({"id": "x", "target": {"bytes": bomb_png(), "path": None}}, "x", "data", True)


def test_a_config_that_is_not_utf8_or_not_a_mapping(tmp_path, capsys):
    bad = tmp_path / "c.yaml"
    bad.write_bytes(b"radius: \xff\xfe3\n")
    assert main(["evaluate", "--method", "telea", "--config", str(bad), "--out", str(tmp_path / "r")]) == 2
    _one_error(capsys, "not UTF-8", "c.yaml")
    bad.write_text("- 1\n- 2\n")
    assert main(["evaluate", "--method", "telea", "--config", str(bad), "--out", str(tmp_path / "r")]) == 2
    _one_error(capsys, "must be a YAML mapping")
    assert not (tmp_path / "r").exists()


def test_model_that_is_neither_a_folder_nor_a_hub_id(tmp_path, capsys):
    assert main(["evaluate", "--method", "sd-inpaint", "--model", "/nonexistent", "--out", str(tmp_path / "r")]) == 2
    _one_error(capsys, "neither an existing folder nor a hub id")


@pytest.mark.parametrize("case", ["file", "under a file"])
def test_out_that_cannot_be_a_folder(tmp_path, case, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = blocker if case == "file" else blocker / "run"
    assert main(["evaluate", "--method", "telea", "--out", str(out)]) == 2
    _one_error(capsys, "is a file" if case == "file" else "lies under a file")
    assert blocker.read_text() == "x"


def test_out_in_a_folder_that_is_not_writable(tmp_path, monkeypatch, capsys):
    import os

    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(tmp_path) else real(path, mode))
    assert main(["evaluate", "--method", "telea", "--out", str(tmp_path / "run")]) == 2
    _one_error(capsys, "not writable")
    assert not (tmp_path / "run").exists()


def test_a_full_disk_mid_run_is_one_error_and_the_run_resumes(tmp_path, monkeypatch, capsys):
    import errno

    import realbench.run.runfolder as runfolder

    calls = {"n": 0}
    real = runfolder.write_png

    def full(path, image, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, image, *args, **kwargs)

    monkeypatch.setattr(runfolder, "write_png", full)
    out = tmp_path / "run"
    assert main(["evaluate", "--method", "telea", "--no-progress", "--out", str(out)]) == 2
    _one_error(capsys, "No space left on device", "rerun the same command to resume")
    monkeypatch.setattr(runfolder, "write_png", real)
    assert main(["evaluate", "--method", "telea", "--no-progress", "--out", str(out)]) == 0


def test_table_and_report_outputs_that_cannot_be_written(tmp_path, capsys):
    run = evaluate("telea", "sample", scenes=["chelsea-defocus"], out=tmp_path / "run", progress=False).run_dir
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    assert main(["leaderboard", str(run), "--out", str(blocker / "lb.csv")]) == 2
    _one_error(capsys, "lb.csv")
    assert main(["report", str(run), "--out", str(blocker / "r.html")]) == 2
    _one_error(capsys, "is a file, not a folder")
    assert main(["report", str(run), "--out", str(tmp_path)]) == 2
    _one_error(capsys, "is a folder")


def test_a_cache_that_cannot_be_written(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("REALBENCH_CACHE", str(blocker / "cache"))
    assert main(["data", "info"]) == 2
    _one_error(capsys, "REALBENCH_CACHE")


def test_records_and_run_json_that_are_not_what_they_claim(sample_bench, tmp_path, capsys):
    run = evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=tmp_path / "run", progress=False).run_dir
    records = (run / "records.jsonl").read_text()
    (run / "records.jsonl").write_text('{"hello": "world"}\n' + records)
    assert main(["leaderboard", str(run)]) == 2
    _one_error(capsys, "line 1: field 'scene' is missing", "records.jsonl")
    (run / "records.jsonl").write_text(records)
    (run / "run.json").write_text("[1, 2, 3]")
    assert main(["leaderboard", str(run)]) == 2
    _one_error(capsys, "run.json is not a realbench run description")


def test_baselines_that_are_not_leaderboard_tables(sample_bench, tmp_path, capsys):
    run = evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=tmp_path / "run", progress=False).run_dir
    md = tmp_path / "lb.md"
    assert main(["leaderboard", str(run), "--out", str(md)]) == 0
    capsys.readouterr()
    assert main(["check", str(run), "--baseline", str(md)]) == 2
    _one_error(capsys, "not a realbench leaderboard table")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    assert main(["check", str(run), "--baseline", str(other)]) == 2
    _one_error(capsys, "not a realbench leaderboard table")


def test_a_saved_dataset_with_corrupt_image_bytes(tmp_path, capsys):
    from datasets import load_from_disk

    from realbench.data.hfdata import export_benchmark

    make_scene(tmp_path / "src", "s1")
    export_benchmark(load_benchmark(tmp_path / "src"), tmp_path / "ds", fmt="arrow")
    dataset = load_from_disk(str(tmp_path / "ds")).cast_column("target", __import__("datasets").Image(decode=False))
    dataset = dataset.map(lambda row: {"target": {"bytes": b"\x89PNG broken", "path": None}})
    dataset.save_to_disk(str(tmp_path / "bad"))
    capsys.readouterr()
    assert main(["data", "info", "--data", str(tmp_path / "bad")]) == 2
    _one_error(capsys, "scene 's1'", "cannot")


def test_a_method_that_is_not_a_method(tmp_path, capsys):
    assert main(["evaluate", "--method", "json:JSONDecoder", "--out", str(tmp_path / "r")]) == 2
    _one_error(capsys, "'json:JSONDecoder' is not a realbench method")
    assert main(["evaluate", "--method", "json:NoSuchThing", "--out", str(tmp_path / "r")]) == 2
    _one_error(capsys, "cannot import method")
    assert not (tmp_path / "r").exists()


def test_a_corrupt_exif_warning_names_scene_and_file(tmp_path, recwarn):
    import io

    import numpy as np
    from PIL import Image

    folder = make_scene(tmp_path / "data", "s1")
    buffer = io.BytesIO()
    exif = b"MM\x00\x2a\x00\x00\x00\x08\x00\x05" + b"\x01\x12\x00\x03\xff\xff\xff\xff\x00\x01\x00\x00" * 2
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(buffer, "JPEG", exif=b"Exif\x00\x00" + exif)
    (folder / "ref" / "00.jpg").write_bytes(buffer.getvalue())
    load_benchmark(tmp_path / "data")
    messages = [str(w.message) for w in recwarn]
    assert any(m.startswith("scene 's1', file ") and "00.jpg" in m and "EXIF" in m for m in messages), messages
