"""Loading the release layout, task inference and every bad-input case."""
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import make_scene, photo
from PIL import Image

from realbench import RealBenchError, load_benchmark
from realbench.core.scene import infer_task
from realbench.data.loading import RealBenchWarning


def test_release_layout_with_realbench_level_and_inferred_tasks(tmp_path):
    root = tmp_path / "download" / "RealBench"
    make_scene(root, "a_inpaint", hole="inpaint")
    make_scene(root, "b_outpaint", hole="outpaint", refs=1)
    bench = load_benchmark(tmp_path / "download")
    assert bench.ids == ["a_inpaint", "b_outpaint"]
    assert [s.task for s in bench] == ["inpaint", "outpaint"]
    scene = bench["b_outpaint"]
    assert bench[1] is scene and bench[-1] is scene  # positions work too (notebooks)
    with pytest.raises(RealBenchError, match="Did you mean 'b_outpaint'"):
        bench["b_outpant"]
    assert scene.target.dtype == np.uint8 and scene.target.shape == (64, 80, 3)
    assert scene.mask.dtype == bool and scene.mask.shape == (64, 80)
    assert len(scene.refs) == 1 and not scene.target.flags.writeable
    assert set(scene.source["files"]) == {"ref/00.jpg", "target/target.png", "target/mask.png", "target/gt.png"}


def test_a_manifest_task_that_agrees_with_the_mask_is_taken(tmp_path):
    make_scene(tmp_path, "x", hole="inpaint")
    make_scene(tmp_path, "y", hole="outpaint")
    (tmp_path / "manifest.json").write_text(json.dumps({"scenes": {"x": {"task": "inpaint"}, "y": "outpaint"}}))
    assert [s.task for s in load_benchmark(tmp_path)] == ["inpaint", "outpaint"]


@pytest.mark.parametrize("hole, declared", [("inpaint", "outpaint"), ("outpaint", "inpaint")])
def test_a_manifest_task_that_contradicts_the_mask_is_refused(tmp_path, hole, declared):
    """An interior hole is inpainting, a hole reaching the border outpainting (``infer_task``):
    a declaration saying otherwise would score the scene in the wrong split."""
    make_scene(tmp_path, "x", hole=hole)
    (tmp_path / "manifest.json").write_text(json.dumps({"scenes": {"x": {"task": declared}}}))
    message = _bad(tmp_path, f"task '{declared}' is declared", scene="x")
    assert "manifest.json" in message and "border" in message


def test_a_manifest_that_is_a_folder_is_refused(tmp_path):
    make_scene(tmp_path, "x")
    (tmp_path / "manifest.json").mkdir()
    assert "manifest.json" in _bad(tmp_path, "not a regular file", scene=None)


def test_a_manifest_naming_a_scene_that_is_not_there_is_refused(tmp_path):
    make_scene(tmp_path, "x")
    (tmp_path / "manifest.json").write_text(json.dumps({"scenes": {"ghost": {"task": "inpaint"}}}))
    message = _bad(tmp_path, "names scene 'ghost'", scene=None)
    assert "manifest.json" in message


@pytest.mark.parametrize("manifest, needle", [
    ({"x": {"tsk": "outpaint"}}, "declares no 'task' (its keys: tsk)"),
    ({"scenes": {"x": "inpaint"}, "y": "inpaint", "version": 1}, "declares scene 'y' beside it"),
], ids=["mistyped-key", "scenes-and-top-level"])
def test_a_manifest_declaration_is_never_dropped_silently(manifest, needle, tmp_path):
    make_scene(tmp_path, "x", hole="inpaint")
    make_scene(tmp_path, "y", hole="outpaint")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert "manifest.json" in _bad(tmp_path, re.escape(needle), scene="x" if "tsk" in json.dumps(manifest) else None)


@pytest.mark.parametrize("other", ["GT.png", "gt.jpg"])
def test_two_files_that_could_be_the_ground_truth_are_refused(other, tmp_path):
    folder = make_scene(tmp_path, "x")
    (folder / "target" / other).write_bytes((folder / "target" / "gt.png").read_bytes())
    assert other in _bad(tmp_path, "2 files could be the gt image", scene="x")


def test_one_scene_of_a_folder_with_a_manifest_loads_alone(tmp_path):
    """The manifest above a scene folder names its siblings too: they are there, so no error."""
    make_scene(tmp_path, "x", hole="inpaint")
    make_scene(tmp_path, "y", hole="outpaint")
    (tmp_path / "manifest.json").write_text(json.dumps({"x": "inpaint", "y": "outpaint"}))
    assert load_benchmark(tmp_path / "y").ids == ["y"]


def _grey_hole(folder: Path, share: float = 1.0) -> None:
    """The scene's hole painted in two greys (100 and 200), no pixel white; or (``share`` < 1) its
    first rows, that share of it, a block of grey 127 and the rest white."""
    mask = np.asarray(Image.open(folder / "target" / "mask.png")).copy()
    hole = mask > 0
    if share < 1:
        rows = np.flatnonzero(hole.any(axis=1))
        block = hole & (np.arange(mask.shape[0])[:, None] < rows[0] + int(share * len(rows)))
        mask[hole], mask[block] = 255, 127
    else:
        mask[hole] = 100
        mask[hole & (np.indices(mask.shape)[1] % 2 == 0)] = 200
    Image.fromarray(mask).save(folder / "target" / "mask.png")


@pytest.mark.parametrize("share", [1.0, 0.45], ids=["all-grey", "45-percent-grey"])
@pytest.mark.parametrize("source", ["folder", "zip", "dataset"])
def test_a_mask_whose_hole_is_grey_is_refused_from_every_source(tmp_path, source, share, monkeypatch):
    """The hole is a quarter of the image: grey over the whole image is not above its limit, grey
    over the hole is (it is no mask of what is missing, whatever threshold would make of it)."""
    import zipfile

    from realbench.data.hfdata import export_benchmark

    monkeypatch.setenv("REALBENCH_CACHE", str(tmp_path / "cache"))
    folder = make_scene(tmp_path / "RealBench", "s1", hole="inpaint")
    _grey_hole(folder, share)
    spec = tmp_path / "RealBench"
    if source == "zip":
        spec = tmp_path / "data.zip"
        with zipfile.ZipFile(spec, "w") as archive:
            for file in sorted(folder.rglob("*")):
                archive.write(file, file.relative_to(tmp_path).as_posix())
    elif source == "dataset":
        make_scene(tmp_path / "clean", "s1", hole="inpaint")
        bench = load_benchmark(tmp_path / "clean")
        export_benchmark(bench, tmp_path / "export")
        import pyarrow.parquet as pq

        file = next((tmp_path / "export").glob("data/*.parquet"))
        rows = pq.read_table(file).to_pylist()
        rows[0]["mask"] = {"bytes": (folder / "target" / "mask.png").read_bytes(), "path": None}
        pq.write_table(pq.read_table(file).from_pylist(rows, schema=pq.read_table(file).schema), file)
        spec = tmp_path / "export"
    with pytest.raises(RealBenchError, match="mask is not binary: (100% of its non-black|.* away from any edge)") \
            as info:
        load_benchmark(spec)
    assert "scene 's1'" in str(info.value) and "mask" in str(info.value)


def test_infer_task():
    mask = np.zeros((10, 10), bool)
    mask[3:6, 3:6] = True
    assert infer_task(mask) == "inpaint"
    mask[0, 5] = True
    assert infer_task(mask) == "outpaint"


def test_scene_subset_and_unknown_id(tmp_path):
    make_scene(tmp_path, "garden")
    make_scene(tmp_path, "kitchen")
    assert load_benchmark(tmp_path, scenes=["kitchen"]).ids == ["kitchen"]
    with pytest.raises(RealBenchError, match="Did you mean 'garden'"):
        load_benchmark(tmp_path, scenes=["gardn"])


def test_real_scenes_load_with_the_right_tasks(dev_data):
    bench = load_benchmark(dev_data)
    tasks = {s.id: s.task for s in bench}
    assert tasks == {"churchill": "inpaint", "sacre_coeur": "outpaint", "wormhole": "outpaint"}
    for scene in bench:
        assert scene.target.shape == (256, 256, 3) and scene.gt.shape == (256, 256, 3)
        assert 1 <= len(scene.refs) <= 5
        # the target is white (or was transparent) exactly where the mask says missing
        assert (scene.target[scene.mask] == 255).all()


def _bad(tmp_path, match, scene="s1"):
    with pytest.raises(RealBenchError, match=match) as info:
        load_benchmark(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    if scene:
        assert f"scene '{scene}'" in message
    return message


def test_corrupt_image(tmp_path):
    folder = make_scene(tmp_path)
    (folder / "target" / "gt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    assert "gt.png" in _bad(tmp_path, "cannot read image")


def test_truncated_image(tmp_path):
    folder = make_scene(tmp_path)
    ref = folder / "ref" / "00.jpg"
    ref.write_bytes(ref.read_bytes()[: 300])
    assert "00.jpg" in _bad(tmp_path, "cannot read image")


@pytest.mark.parametrize("name", ["target", "mask", "gt"])
def test_missing_target_files(tmp_path, name):
    folder = make_scene(tmp_path)
    (folder / "target" / f"{name}.png").unlink()
    assert f"{name}.png" in _bad(tmp_path, f"{name} image is missing")


def test_missing_gt_allowed_when_not_required(tmp_path):
    folder = make_scene(tmp_path)
    (folder / "target" / "gt.png").unlink()
    assert load_benchmark(tmp_path, require_gt=False)["s1"].gt is None


def test_empty_mask(tmp_path):
    folder = make_scene(tmp_path)
    Image.fromarray(np.zeros((64, 80), np.uint8)).save(folder / "target" / "mask.png")
    assert "mask.png" in _bad(tmp_path, "mask is empty")


def test_mask_covering_everything(tmp_path):
    folder = make_scene(tmp_path)
    Image.fromarray(np.full((64, 80), 255, np.uint8)).save(folder / "target" / "mask.png")
    _bad(tmp_path, "covers the whole image")


def test_size_mismatch(tmp_path):
    folder = make_scene(tmp_path)
    Image.fromarray(photo(64, 96)).save(folder / "target" / "gt.png")
    assert "gt.png" in _bad(tmp_path, "ground truth is 96x64 but target is 80x64")
    folder = make_scene(tmp_path / "other")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(folder / "target" / "mask.png")
    with pytest.raises(RealBenchError, match="mask is 32x32 but target is 80x64"):
        load_benchmark(tmp_path / "other")


def test_no_references(tmp_path):
    folder = make_scene(tmp_path, refs=0)
    (folder / "ref" / "readme.txt").write_text("no photos here")
    _bad(tmp_path, "no reference images")


def test_unreadable_folder(tmp_path, monkeypatch):
    make_scene(tmp_path)
    real_iterdir = Path.iterdir

    def iterdir(self):
        if self == tmp_path:
            raise PermissionError(13, "Permission denied")
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    message = _bad(tmp_path, "cannot read folder", scene=None)
    assert str(tmp_path) in message and "Permission denied" in message


def test_not_a_folder_and_no_scenes(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RealBenchError, match="not a folder"):
        load_benchmark(tmp_path / "file.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RealBenchError, match="no scenes found"):
        load_benchmark(tmp_path / "empty")


def test_more_than_five_references_warns(tmp_path):
    make_scene(tmp_path, refs=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bench = load_benchmark(tmp_path)
    assert len(bench["s1"].refs) == 6
    assert any(issubclass(w.category, RealBenchWarning) and "6 references" in str(w.message) for w in caught)
