"""Shared fixtures: an isolated cache for the sample benchmark, scene-folder builders, dev data."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DEV_DATA = REPO.parent / "shared" / "realbench-dev"

# One cache per test session, so tests never touch (or depend on) the user's ~/.cache.
_CACHE = tempfile.mkdtemp(prefix="realbench-test-cache-")
os.environ["REALBENCH_CACHE"] = _CACHE
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def sample_bench():
    from realbench import load_benchmark

    return load_benchmark("sample")


@pytest.fixture
def dev_data() -> Path:
    if not (DEV_DATA / "README.md").is_file():
        pytest.skip("../shared/realbench-dev is not present")
    return DEV_DATA


def photo(height: int = 64, width: int = 80, seed: int = 0) -> np.ndarray:
    """A smooth random colour image (smooth so that inpainting and SSIM behave like on photos)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BILINEAR))


def make_scene(root: Path, scene_id: str = "s1", size=(64, 80), refs: int = 2, hole: str = "inpaint",
               seed: int = 0) -> Path:
    """Write one scene in the release layout and return its folder."""
    h, w = size
    gt = photo(h, w, seed)
    mask = np.zeros((h, w), np.uint8)
    if hole == "inpaint":
        mask[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 255
    else:
        mask[:, : w // 3] = 255
    target = gt.copy()
    target[mask > 0] = 255
    folder = root / scene_id
    (folder / "ref").mkdir(parents=True)
    (folder / "target").mkdir(parents=True)
    Image.fromarray(gt).save(folder / "target" / "gt.png")
    Image.fromarray(target).save(folder / "target" / "target.png")
    Image.fromarray(mask).save(folder / "target" / "mask.png")
    for index in range(refs):
        Image.fromarray(photo(h + 8 * index, w, seed + 100 + index)).save(folder / "ref" / f"{index:02d}.jpg")
    return folder
