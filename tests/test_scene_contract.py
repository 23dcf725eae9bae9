"""The scene contract: a target's missing pixels are white, whatever its file held, so no method
can read the answer under the mask (three of the five real dev targets are transparent PNGs whose
colour channels still hold the photo there)."""
import numpy as np
from conftest import make_scene, photo
from PIL import Image

from realbench import Scene, load_benchmark


def test_pixels_under_the_mask_are_white_and_known_ones_untouched():
    gt = photo(48, 64, 1)
    mask = np.zeros((48, 64), bool)
    mask[10:30, 20:50] = True
    leaky = gt.copy()  # the photo itself under the mask, as a careless export leaves it
    scene = Scene("s", "inpaint", (photo(40, 40, 2),), leaky, mask, gt)
    assert (scene.target[mask] == 255).all()
    np.testing.assert_array_equal(scene.target[~mask], gt[~mask])
    np.testing.assert_array_equal(leaky, gt)  # the caller's array is not changed
    white = gt.copy()
    white[mask] = 255
    assert Scene("s", "inpaint", scene.refs, white, mask, gt).checksum == scene.checksum


def test_a_target_file_holding_the_photo_under_its_mask_loads_white(tmp_path):
    folder = make_scene(tmp_path / "data", "leak")
    gt = np.array(Image.open(folder / "target" / "gt.png"))
    mask = np.array(Image.open(folder / "target" / "mask.png")) > 127
    Image.fromarray(gt).save(folder / "target" / "target.png")  # RGB, the answer under the mask
    rgba = np.dstack([gt, np.where(mask, 0, 255).astype(np.uint8)])
    other = make_scene(tmp_path / "data", "alpha")
    Image.fromarray(rgba).save(other / "target" / "target.png")  # transparent hole, photo underneath
    for scene in load_benchmark(tmp_path / "data"):
        assert (scene.target[scene.mask] == 255).all(), scene.id
        np.testing.assert_array_equal(scene.target[~scene.mask], scene.gt[~scene.mask])
