"""Normalisation of what real RealBench files look like into RGB uint8 and bool masks."""
import cv2
import numpy as np
import pytest
from conftest import make_scene, photo
from PIL import Image

from realbench.core.errors import RealBenchError
from realbench.core.imageio import encode_png, read_mask, read_rgb
from realbench.data.loading import load_scene_dir


def test_exif_orientation_is_applied(tmp_path):
    image = photo(40, 60)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(image).save(tmp_path / "r.png", exif=exif)
    loaded = read_rgb(tmp_path / "r.png")
    assert loaded.shape == (60, 40, 3)
    np.testing.assert_array_equal(loaded, np.rot90(image, k=-1))


@pytest.mark.parametrize("mode", ["L", "P", "LA", "RGBA", "RGB"])
def test_modes_become_rgb_uint8(tmp_path, mode):
    image = Image.fromarray(photo(32, 48)).convert(mode)
    image.save(tmp_path / "x.png")
    loaded = read_rgb(tmp_path / "x.png")
    assert loaded.dtype == np.uint8 and loaded.shape == (32, 48, 3)
    np.testing.assert_array_equal(loaded, np.asarray(image.convert("RGB")))


def test_16bit_grey_and_rgb(tmp_path):
    rng = np.random.default_rng(1)
    grey16 = rng.integers(0, 65536, (20, 30), dtype=np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g.png")
    loaded = read_rgb(tmp_path / "g.png")
    expected = np.round(grey16 / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(loaded[..., 0], expected)
    np.testing.assert_array_equal(loaded[..., 2], expected)

    rgb16 = rng.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c.png"), rgb16[..., ::-1])
    loaded = read_rgb(tmp_path / "c.png")
    assert loaded.dtype == np.uint8
    assert np.abs(loaded.astype(int) - np.round(rgb16 / 257.0)).max() <= 1


def test_transparent_hole_loads_like_white_hole(tmp_path):
    gt = photo(32, 32)
    hole = np.zeros((32, 32), bool)
    hole[8:20, 10:25] = True
    white = gt.copy()
    white[hole] = 255
    rgba = np.dstack([gt, np.where(hole, 0, 255).astype(np.uint8)])
    rgba[hole, :3] = np.random.default_rng(0).integers(0, 256, (hole.sum(), 3))  # garbage under alpha 0
    Image.fromarray(white).save(tmp_path / "white.png")
    Image.fromarray(rgba, "RGBA").save(tmp_path / "transparent.png")
    np.testing.assert_array_equal(read_rgb(tmp_path / "white.png"), read_rgb(tmp_path / "transparent.png"))


def _soft_mask():
    yy, xx = np.mgrid[0:40, 0:40]
    distance = np.sqrt((yy - 20.0) ** 2 + (xx - 20.0) ** 2)
    return np.clip((12.0 - distance) * 128 + 128, 0, 255).astype(np.uint8)  # anti-aliased disc


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_mask_forms_are_binarised_at_128(tmp_path, mode):
    soft = _soft_mask()
    if mode == "RGBA":
        image = Image.fromarray(np.dstack([soft, soft, soft, soft]), "RGBA")
    else:
        image = Image.fromarray(soft).convert(mode)
    image.save(tmp_path / "m.png")
    mask = read_mask(tmp_path / "m.png")
    assert mask.dtype == bool
    grey = np.asarray(Image.fromarray(soft).convert(mode).convert("L")) if mode != "RGBA" else soft
    expected = grey >= 128 if mode != "RGBA" else (soft.astype(float) * soft / 255.0).round() >= 128
    np.testing.assert_array_equal(mask, expected)
    assert 0 < mask.sum() < mask.size


def test_photo_as_mask_is_rejected(tmp_path):
    Image.fromarray(photo(40, 40)).save(tmp_path / "m.png")
    with pytest.raises(RealBenchError, match="not binary"):
        read_mask(tmp_path / "m.png")


def test_hidden_and_non_image_files_in_ref_are_ignored(tmp_path):
    folder = make_scene(tmp_path, refs=2)
    (folder / "ref" / ".DS_Store").write_bytes(b"\0\1junk")
    (folder / "ref" / "._00.jpg").write_bytes(b"AppleDouble junk")
    (folder / "ref" / "notes.txt").write_text("taken with a phone")
    (folder / "ref" / "thumbs").mkdir()
    scene = load_scene_dir(folder)
    assert len(scene.refs) == 2


def test_stored_png_encoder_round_trips(tmp_path):
    for array in (photo(33, 70), photo(20, 20)[..., 0], np.zeros((300, 300, 3), np.uint8)):
        (tmp_path / "x.png").write_bytes(encode_png(array))
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "x.png")), array)
