"""The built-in sample: deterministic bytes, user cache location, both tasks, real stereo scene."""
import json
from pathlib import Path

import numpy as np
from PIL import Image

from realbench.data.sample_data import ensure_sample, file_checksums, generate_sample, sample_root

CHECKSUMS = Path(__file__).resolve().parent.parent / "data" / "sample-v1.sha256.json"


def test_sample_is_byte_identical_to_the_committed_checksums(tmp_path):
    generate_sample(tmp_path / "a")
    generate_sample(tmp_path / "b")
    first = file_checksums(tmp_path / "a")
    assert first == file_checksums(tmp_path / "b")
    assert first == json.loads(CHECKSUMS.read_text())


def test_sample_goes_to_the_user_cache_not_site_packages(sample_bench, monkeypatch, tmp_path):
    import os

    import realbench

    root = ensure_sample()
    assert root == sample_root()
    assert str(root).startswith(os.environ["REALBENCH_CACHE"])
    assert not str(root).startswith(str(Path(realbench.__file__).parent))
    monkeypatch.setenv("REALBENCH_CACHE", str(tmp_path / "elsewhere"))
    assert sample_root().parent == tmp_path / "elsewhere"


def test_sample_contents(sample_bench):
    assert len(sample_bench) >= 6
    tasks = [s.task for s in sample_bench]
    assert "inpaint" in tasks and "outpaint" in tasks
    moto = sample_bench["motorcycle-stereo"]
    from skimage import data

    left, right, _ = data.stereo_motorcycle()
    # the reference is the *other* stereo view: closer to the right image than to the left
    ref = np.asarray(Image.fromarray(moto.refs[0]).resize((right.shape[1], right.shape[0])))
    assert np.abs(ref.astype(int) - right).mean() < np.abs(ref.astype(int) - left).mean()
    for scene in sample_bench:
        assert scene.gt is not None and (scene.target[scene.mask] == 255).all()
        np.testing.assert_array_equal(scene.target[~scene.mask], scene.gt[~scene.mask])
        assert len({r.shape for r in scene.refs} | {scene.target.shape}) >= 2  # refs keep their own sizes
