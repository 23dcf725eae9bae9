"""Names and paths that come from data never lead outside the output folder, symbolic links in a
run folder are never written through, and names are escaped when printed."""
import json
import os

import pytest
from conftest import make_scene

from realbench import RealBenchError, evaluate, load_benchmark
from realbench.cli import main
from realbench.run.records import read_record_dicts


def _dataset_with_id(root, scene_id):
    from realbench.data.hfdata import export_benchmark

    make_scene(root / "src", "s1")
    export_benchmark(load_benchmark(root / "src"), root / "ds", fmt="arrow")
    from datasets import load_from_disk

    dataset = load_from_disk(str(root / "ds")).map(lambda row: {"id": scene_id})
    dataset.save_to_disk(str(root / "evil"))
    return root / "evil"


@pytest.mark.parametrize("scene_id", ["../../ESCAPED", "a/b", "..", "x\ny", "\x1b[2Jclear", " padded"])
def test_a_dataset_scene_id_that_is_not_a_name_is_refused(tmp_path, scene_id, capsys):
    data = _dataset_with_id(tmp_path, scene_id)
    capsys.readouterr()
    out = tmp_path / "work" / "run"
    assert main(["evaluate", "--method", "telea", "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be used as a file name" in err
    assert "\x1b" not in err and "\ny" not in err  # printed escaped
    assert not out.exists() and not (tmp_path / "ESCAPED").exists() and not (tmp_path / "work" / "ESCAPED").exists()


def test_a_scene_folder_with_control_characters_is_refused_and_printed_escaped(tmp_path, capsys):
    make_scene(tmp_path / "data", "ok")
    os.rename(make_scene(tmp_path / "data", "tmp"), tmp_path / "data" / "evil\x1b[31mred")
    assert main(["data", "info", "--data", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "\\x1b[31mred" in err and "\x1b" not in err


def _shards(sample_bench, tmp_path):
    for index in (1, 2):
        evaluate("telea", sample_bench, scenes=["chelsea-defocus", "rocket-style"], shard=f"{index}/2",
                 out=tmp_path / f"s{index}", progress=False)
    return tmp_path / "s1", tmp_path / "s2"


def test_merge_never_copies_a_file_a_record_points_outside_its_shard(sample_bench, tmp_path, capsys):
    s1, s2 = _shards(sample_bench, tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy me")
    records = read_record_dicts(s1 / "records.jsonl")
    records[0]["image"] = "../secret.txt"
    (s1 / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["merge", str(s1), str(s2), "--out", str(tmp_path / "merged")]) == 2
    assert "record image '../secret.txt' is not a plain relative path" in capsys.readouterr().err
    assert not (tmp_path / "merged").exists()
    # a symbolic link inside the shard that points outside is refused as well
    records[0]["image"] = f"images/{records[0]['scene']}/leak.png"  # in the scene's folder, as images are
    (s1 / records[0]["image"]).symlink_to(secret)
    (s1 / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["merge", str(s1), str(s2), "--out", str(tmp_path / "merged")]) == 2
    assert "symbolic link" in capsys.readouterr().err and not (tmp_path / "merged").exists()


def test_a_symlinked_records_file_is_never_appended_to(sample_bench, tmp_path, capsys):
    out = tmp_path / "run"
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], samples=1, out=out, progress=False)
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text((out / "records.jsonl").read_text() + '{"partial')
    before = elsewhere.read_bytes()
    (out / "records.jsonl").unlink()
    (out / "records.jsonl").symlink_to(elsewhere)
    assert main(["evaluate", "--method", "telea", "--scenes", "chelsea-defocus,rocket-style", "--out", str(out),
                 "--no-progress"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert elsewhere.read_bytes() == before  # neither appended to nor cut


def test_a_symlinked_image_folder_is_never_written_through(sample_bench, tmp_path, capsys):
    out = tmp_path / "run"
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=out, progress=False)
    outside = tmp_path / "outside"
    outside.mkdir()
    (out / "images" / "rocket-style").symlink_to(outside, target_is_directory=True)
    assert main(["evaluate", "--method", "telea", "--scenes", "chelsea-defocus,rocket-style", "--out", str(out),
                 "--no-progress"]) == 2
    assert "symbolic link" in capsys.readouterr().err and not any(outside.iterdir())


def test_report_names_its_files_from_safe_ids_only(sample_bench, tmp_path):
    from realbench.core.paths import inside

    with pytest.raises(RealBenchError, match="not a plain relative path"):
        inside(tmp_path, "../x")
    with pytest.raises(RealBenchError, match="not a plain relative path"):
        inside(tmp_path, "/etc/passwd")
    assert inside(tmp_path, "images/a/000.png") == tmp_path / "images" / "a" / "000.png"


def test_records_naming_files_outside_the_run_are_refused_by_every_reader(sample_bench, tmp_path, capsys):
    out = tmp_path / "run"
    evaluate("telea", sample_bench, scenes=["chelsea-defocus"], out=out, progress=False)
    secret = tmp_path / "secret.png"
    secret.write_bytes((out / "images" / "chelsea-defocus" / "000.png").read_bytes())
    records = read_record_dicts(out / "records.jsonl")
    records[0]["image"] = "../secret.png"
    (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["report", str(out), "--out", str(tmp_path / "r.html")]) == 2
    assert "not a plain relative path" in capsys.readouterr().err
    records[0]["image"], records[0]["scene"] = "images/chelsea-defocus/000.png", "../up"
    (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["leaderboard", str(out)]) == 2
    assert "cannot be used as a file name" in capsys.readouterr().err
