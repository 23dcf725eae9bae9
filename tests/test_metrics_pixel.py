"""PSNR and SSIM against scikit-image, plus the invariants a masked metric must keep."""
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from conftest import photo
from metrics import METRICS
from metrics.psnr import masked_psnr
from metrics.ssim import masked_ssim


def _pair(seed=0, h=72, w=96, noise=25.0):
    gt = photo(h, w, seed)
    rng = np.random.default_rng(seed + 1)
    pred = np.clip(gt + rng.normal(0, noise, gt.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[10:50, 20:70] = True
    mask[55:60, :] = True
    return pred, gt, mask


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_psnr_matches_skimage_on_masked_pixels(seed):
    pred, gt, mask = _pair(seed)
    expected = peak_signal_noise_ratio(gt[mask], pred[mask], data_range=255)
    assert masked_psnr(pred, gt, mask) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_matches_skimage_full_map_averaged_over_mask(seed):
    pred, gt, mask = _pair(seed)
    _, full = structural_similarity(gt, pred, channel_axis=2, gaussian_weights=True, data_range=255, full=True)
    expected = full.mean(axis=2)[mask].mean()
    assert masked_ssim(pred, gt, mask) == pytest.approx(expected, abs=1e-4)


def test_on_real_photos(dev_data):
    from realbench import load_benchmark

    scene = load_benchmark(dev_data, scenes=["churchill"])["churchill"]
    import cv2

    pred = cv2.resize(scene.refs[0], (512, 512), interpolation=cv2.INTER_AREA)  # a plausible wrong fill
    _, full = structural_similarity(scene.gt, pred, channel_axis=2, gaussian_weights=True, data_range=255, full=True)
    assert masked_ssim(pred, scene.gt, scene.mask) == pytest.approx(full.mean(axis=2)[scene.mask].mean(), abs=1e-4)
    expected = peak_signal_noise_ratio(scene.gt[scene.mask], pred[scene.mask], data_range=255)
    assert masked_psnr(pred, scene.gt, scene.mask) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("fn", [masked_psnr, masked_ssim])
def test_pixels_outside_the_mask_do_not_matter(fn):
    pred, gt, mask = _pair()
    # SSIM windows reach 5 px into the known region; change only pixels farther away than that
    import cv2

    far = cv2.dilate(mask.astype(np.uint8), np.ones((13, 13), np.uint8)) == 0
    changed = pred.copy()
    changed[far] = 255 - changed[far]
    assert far.sum() > 500
    assert fn(changed, gt, mask) == fn(pred, gt, mask)
    if fn is masked_psnr:  # PSNR does not even look at neighbours
        changed = pred.copy()
        changed[~mask] = 0
        assert fn(changed, gt, mask) == fn(pred, gt, mask)


def test_identical_images_are_perfect_and_worse_is_lower():
    pred, gt, mask = _pair()
    assert masked_psnr(gt, gt, mask) == float("inf")
    assert masked_ssim(gt, gt, mask) == pytest.approx(1.0)
    worse = np.clip(gt + np.random.default_rng(9).normal(0, 60, gt.shape), 0, 255).astype(np.uint8)
    assert masked_psnr(worse, gt, mask) < masked_psnr(pred, gt, mask)
    assert masked_ssim(worse, gt, mask) < masked_ssim(pred, gt, mask)


def test_bad_shapes_and_empty_mask_raise():
    pred, gt, mask = _pair()
    with pytest.raises(ValueError):
        masked_psnr(pred[:10], gt, mask)
    with pytest.raises(ValueError):
        masked_ssim(pred, gt, np.zeros_like(mask))


def test_metric_metadata():
    for name in ("psnr", "ssim"):
        info = METRICS.get(name).info
        assert info.name == name and info.higher_is_better and info.region == "mask" and not info.needs_weights
