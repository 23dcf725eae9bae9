"""Learned metrics at their compute floor without moving a number: the ground-truth side is kept
on disk (safetensors, keyed by protocol and scene content) so a second run on the same data pays
only for its own images; reduced precision is an opt-in the protocol records."""
import numpy as np
import pytest
from conftest import photo

from realbench import RealBenchError, Scene
from realbench.metrics import METRICS
from realbench.metrics._state import feature_cache_path

LEARNED = ["lpips", "lpips_bbox", "dino", "clip"]


def _scene():
    gt = photo(96, 112, 0)
    mask = np.zeros((96, 112), bool)
    mask[16:84, 24:100] = True
    target = gt.copy()
    target[mask] = 255
    return Scene("cached", "inpaint", (photo(64, 64, 5),), target, mask, gt)


def _samples(scene, n=3):
    out = []
    for k in range(n):
        image = scene.gt.copy()
        image[scene.mask] = np.random.default_rng(k).integers(0, 256, scene.gt.shape, dtype=np.uint8)[scene.mask]
        out.append(image)
    return out


@pytest.mark.parametrize("name", LEARNED)
def test_a_second_instance_reuses_the_stored_ground_truth_side(name, weights_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("REALBENCH_CACHE", str(tmp_path / "cache"))
    scene, samples = _scene(), _samples(_scene())
    cls = METRICS.get(name)
    first = cls()
    values = first(scene, samples)
    stored = feature_cache_path(first.full_protocol(), "cpu", scene.checksum)
    assert stored.is_file() and stored.read_bytes()[8:9] == b"{"  # a safetensors file (JSON header)
    prepare = cls.prepare
    monkeypatch.setattr(cls, "prepare", lambda self, s: pytest.fail("the ground-truth side was recomputed"))
    np.testing.assert_array_equal(cls()(scene, samples), values)  # another run: read, not computed
    monkeypatch.setattr(cls, "prepare", prepare)
    stored.write_bytes(b"torn")  # a damaged file is computed again, never trusted
    np.testing.assert_array_equal(cls()(scene, samples), values)
    monkeypatch.setenv("REALBENCH_FEATURE_CACHE", "off")
    np.testing.assert_array_equal(cls()(scene, samples), values)


def test_reduced_precision_is_opt_in_recorded_and_close(weights_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("REALBENCH_CACHE", str(tmp_path / "cache"))
    scene, samples = _scene(), _samples(_scene())
    for name in ("lpips", "dino"):
        exact, half = METRICS.get(name)(), METRICS.get(name)(precision="bf16")
        assert "precision" not in exact.full_protocol()  # the default changes no recorded protocol
        assert half.full_protocol()["precision"] == "bf16"
        np.testing.assert_allclose(half(scene, samples), exact(scene, samples), atol=0.05)
    with pytest.raises(RealBenchError, match="fp16 needs a CUDA device"):
        METRICS.get("dino")(precision="fp16")(scene, samples)


def test_batches_default_to_the_pending_samples_within_a_budget(weights_dir):
    import torch

    from realbench.metrics._torch import batch_size

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert batch_size(None, cpu, 64, 512 * 512, 64 * 2 ** 20, 4) == 4
    assert batch_size(None, cuda, 64, 512 * 512, 64 * 2 ** 20, 4) == 64  # every pending sample fits
    assert batch_size(None, cuda, 64, 4096 * 4096, 64 * 2 ** 20, 4) == 4  # the budget bounds it
    assert batch_size(8, cuda, 64, 512 * 512, 64 * 2 ** 20, 4) == 8
    assert METRICS.get("lpips").default_options["batch_size"] is None
