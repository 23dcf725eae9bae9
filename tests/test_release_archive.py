"""The official release archive as users get it: the .zip itself, the unzip root, any folder above
RealBench/, macOS junk ignored, numeric ids in natural order, Qualitative/ without ground truth."""
import json

import pytest
from replicas import release_archive, zip_folder

from realbench import RealBenchError, evaluate, load_benchmark
from realbench.cli import main
from realbench.run.records import read_record_dicts

IDS = ["0", "1", "2", "10"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = release_archive(tmp_path_factory.mktemp("download") / "unzipped")
    return root, zip_folder(root, root.parent / "realfill_data_release_full.zip")


@pytest.mark.parametrize("where", ["zip", "root", "top", "realbench"])
def test_every_way_of_pointing_at_the_release_loads_the_same_benchmark(archive, where):
    root, zipped = archive
    spec = {"zip": zipped, "root": root, "top": root / "realfill_data_release_full",
            "realbench": root / "realfill_data_release_full" / "RealBench"}[where]
    bench = load_benchmark(spec)
    assert bench.ids == IDS and bench.name == "RealBench"
    assert [len(s.refs) for s in bench] == [2, 3, 2, 2]  # no ._ AppleDouble file counted as a photo
    assert bench["2"].size == (1024, 1024) and all(s.gt is not None for s in bench)
    assert [s.task for s in bench] == ["outpaint", "inpaint", "inpaint", "outpaint"]


def test_the_zip_is_unpacked_once_into_the_cache_and_says_so(archive, capsys):
    _, zipped = archive
    first = load_benchmark(zipped)
    again = load_benchmark(zipped)
    assert "unpacked" in first.note and "already unpacked" in again.note
    assert main(["data", "info", "--data", str(zipped)]) == 0
    out, err = capsys.readouterr()
    assert "note: archive realfill_data_release_full.zip" in err
    lines = [line.split()[0] for line in out.splitlines()[2:]]
    assert lines == IDS  # natural order: 0, 1, 2, 10
    assert "1024x1024" in out


def test_qualitative_is_its_own_generation_only_benchmark(archive, tmp_path, capsys):
    root, _ = archive
    qualitative = root / "realfill_data_release_full" / "Qualitative"
    bench = load_benchmark(qualitative)
    assert bench.name == "Qualitative" and bench.ids == ["0", "1"] and not bench.has_ground_truth
    out = tmp_path / "gen"
    assert main(["evaluate", "--method", "telea", "--data", str(qualitative), "--no-progress", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "no ground truth" in captured.err and "nothing scored" in captured.err
    records = read_record_dicts(out / "records.jsonl")
    assert len(records) == 2 and all(r["metrics"] == {} for r in records)
    assert (out / records[0]["image"]).is_file()
    # asking for scores is one clear error, before anything is written
    bad = tmp_path / "scored"
    assert main(["evaluate", "--method", "telea", "--data", str(qualitative), "--metrics", "psnr",
                 "--out", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no ground truth" in err and "scene '0'" in err and "--metrics none" in err
    assert not bad.exists()


def test_the_unzip_root_does_not_pick_qualitative_or_macosx(archive):
    root, _ = archive
    assert (root / "__MACOSX" / "realfill_data_release_full" / "RealBench").is_dir()
    assert load_benchmark(root).name == "RealBench"


def test_a_folder_without_scenes_says_where_qualitative_is(tmp_path):
    root = release_archive(tmp_path / "dl", scenes={"0": {}})
    import shutil

    shutil.rmtree(root / "realfill_data_release_full" / "RealBench")
    with pytest.raises(RealBenchError, match="no scenes found.*Qualitative"):
        load_benchmark(root)


def test_a_zip_with_an_escaping_entry_is_refused(tmp_path):
    import zipfile

    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("RealBench/0/target/target.png", b"x")
        archive.writestr("../../escaped.txt", b"gotcha")
    with pytest.raises(RealBenchError, match="outside its folder"):
        load_benchmark(bad)
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_evaluate_on_the_zip_in_natural_order_with_a_1024_scene(archive, tmp_path):
    _, zipped = archive
    run = evaluate("homography-warp", zipped, out=tmp_path / "run", progress=False)
    assert list(run.summary()["scene"][:-1]) == IDS
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["data"]["name"] == "RealBench" and meta["scenes"] == IDS
    image = read_record_dicts(tmp_path / "run" / "records.jsonl")
    assert {r["scene"] for r in image} == set(IDS)


def test_shards_follow_natural_order(archive):
    from realbench.run.planning import shard_scenes

    bench = load_benchmark(archive[0])
    assert [s.id for s in shard_scenes(bench.scenes, 1, 2)] == ["0", "2"]
    assert [s.id for s in shard_scenes(bench.scenes, 2, 2)] == ["1", "10"]
