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
    with pytest.raises(RealBenchError, match="cannot load Hugging Face dataset"):
        load_benchmark("nobody-here/realbench-does-not-exist")
