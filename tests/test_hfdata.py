"""Hugging Face datasets round trip: export with save_to_disk, load back pixel-identical."""
import numpy as np
import pytest
from conftest import make_scene

from realbench import RealBenchError, load_benchmark
from realbench.cli import main


def test_export_and_load_round_trip(tmp_path, capsys):
    make_scene(tmp_path / "src", "garden", hole="outpaint")
    make_scene(tmp_path / "src", "hall", hole="inpaint", refs=3)
    assert main(["data", "export", "--data", str(tmp_path / "src"), "--to", str(tmp_path / "hf")]) == 0
    original = load_benchmark(tmp_path / "src")
    loaded = load_benchmark(tmp_path / "hf")
    assert loaded.kind == "hf" and loaded.ids == original.ids
    for a, b in zip(original, loaded):
        assert a.task == b.task and a.checksum == b.checksum
        np.testing.assert_array_equal(a.target, b.target)
        np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_array_equal(a.gt, b.gt)
        assert len(a.refs) == len(b.refs)
        for ra, rb in zip(a.refs, b.refs):
            np.testing.assert_array_equal(ra, rb)
    assert load_benchmark(tmp_path / "hf", scenes=["hall"]).ids == ["hall"]


def test_export_refuses_a_non_empty_folder(tmp_path):
    make_scene(tmp_path / "src")
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "keep.txt").write_text("mine")
    assert main(["data", "export", "--data", str(tmp_path / "src"), "--to", str(tmp_path / "hf")]) == 2
    assert [p.name for p in (tmp_path / "hf").iterdir()] == ["keep.txt"]


def test_uncached_hub_id_offline_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RealBenchError, match="no dataset of that id is in the local Hugging Face cache"):
        load_benchmark("nobody-here/realbench-does-not-exist")


def test_parquet_export_is_laid_out_as_the_hub_stores_datasets(tmp_path):
    from datasets import load_dataset

    make_scene(tmp_path / "src", "garden", hole="outpaint")
    make_scene(tmp_path / "src", "hall", hole="inpaint")
    assert main(["data", "export", "--data", str(tmp_path / "src"), "--to", str(tmp_path / "pq")]) == 0
    assert (tmp_path / "pq" / "data" / "test-00000-of-00001.parquet").is_file()
    card = (tmp_path / "pq" / "README.md").read_text()
    assert card.startswith("---\nconfigs:") and "path: data/test-*.parquet" in card and "num_examples: 2" in card
    # the datasets library reads it by itself, through the card, with images decoded
    plain = load_dataset(str(tmp_path / "pq"))
    assert list(plain) == ["test"] and plain["test"]["id"] == ["garden", "hall"]
    original, loaded = load_benchmark(tmp_path / "src"), load_benchmark(tmp_path / "pq")
    assert [s.checksum for s in loaded] == [s.checksum for s in original]


def _dataset_dict(tmp_path, splits):
    from datasets import Dataset, DatasetDict

    from realbench.data.hfdata import COLUMNS, _features, _png

    make_scene(tmp_path / "src", "a")
    make_scene(tmp_path / "src", "b", seed=4)
    scenes = list(load_benchmark(tmp_path / "src"))
    parts = {}
    for split, chosen in splits.items():
        rows = {column: [] for column in COLUMNS}
        for scene in (s for s in scenes if s.id in chosen):
            rows["id"].append(scene.id)
            rows["task"].append(scene.task)
            rows["refs"].append([_png(r) for r in scene.refs])
            rows["target"].append(_png(scene.target))
            rows["mask"].append(_png(scene.mask.astype(np.uint8) * 255))
            rows["gt"].append(_png(scene.gt))
            rows["source"].append("{}")
        parts[split] = Dataset.from_dict(rows, features=_features())
    DatasetDict(parts).save_to_disk(str(tmp_path / "dd"))
    return tmp_path / "dd"


def test_a_dataset_dict_with_any_split_names(tmp_path, capsys):
    folder = _dataset_dict(tmp_path, {"validation": ["a"], "test": ["b"]})
    assert load_benchmark(folder).ids == ["b"]  # test when present
    assert load_benchmark(folder, split="validation").ids == ["a"]
    with pytest.raises(RealBenchError, match="no split 'train' \\(it has: validation, test\\)"):
        load_benchmark(folder, split="train")
    assert main(["data", "info", "--data", str(folder), "--split", "validation"]) == 0
    assert "a " in capsys.readouterr().out


def test_several_splits_without_test_ask_for_one(tmp_path):
    folder = _dataset_dict(tmp_path, {"train": ["a"], "validation": ["b"]})
    with pytest.raises(RealBenchError, match="several splits \\(train, validation\\); choose one with --split"):
        load_benchmark(folder)
    only = _dataset_dict(tmp_path / "one", {"train": ["a", "b"]})
    assert load_benchmark(only).ids == ["a", "b"]


def test_a_dataset_without_realbench_columns_says_what_it_has(tmp_path):
    from datasets import Dataset

    Dataset.from_dict({"image": [1], "label": [0]}).save_to_disk(str(tmp_path / "other"))
    with pytest.raises(RealBenchError, match="lacks columns.*it has: image, label"):
        load_benchmark(tmp_path / "other")
