"""PSNR and SSIM against scikit-image, plus the invariants a masked metric must keep."""
import numpy as np
import pytest
from conftest import photo
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from realbench.metrics import METRICS
from realbench.metrics.psnr import masked_psnr
from realbench.metrics.ssim import masked_ssim
from realbench.metrics.ssim_opencv import masked_ssim_opencv

# Wang et al. (2004) as scikit-image documents it: Gaussian sigma 1.5, population covariance
WANG = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=2, full=True)


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
def test_ssim_equals_wang_et_al_as_skimage_computes_it(seed):
    pred, gt, mask = _pair(seed)
    _, full = structural_similarity(gt, pred, **WANG)
    expected = full.mean(axis=2)[mask].mean()
    assert masked_ssim(pred, gt, mask) == pytest.approx(expected, abs=1e-6)
    # the version-1 convention (skimage's default sample covariance) is measurably different
    _, sample = structural_similarity(gt, pred, **{**WANG, "use_sample_covariance": True})
    assert abs(sample.mean(axis=2)[mask].mean() - expected) > 1e-4


def _ssim_replicated_reference(pred, gt, mask):
    """The public scripts' convention, from its definition: scipy Gaussian (sigma 1.5, radius 5)
    with replicated borders, population statistics, variances clamped at 0, per-channel masked
    mean clipped to [0, 1], then the channel mean."""
    from scipy.ndimage import gaussian_filter

    def blur(a):
        return gaussian_filter(a, sigma=1.5, truncate=5 / 1.5, mode="nearest")

    values = []
    for c in range(3):
        x, y = pred[..., c].astype(np.float64), gt[..., c].astype(np.float64)
        mx, my = blur(x), blur(y)
        vx, vy = np.maximum(blur(x * x) - mx * mx, 0), np.maximum(blur(y * y) - my * my, 0)
        cov = blur(x * y) - mx * my
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        values.append(np.clip(s[mask].mean(), 0, 1))
    return float(np.mean(values))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_opencv_equals_the_public_scripts_convention(seed):
    pred, gt, mask = _pair(seed)
    mask[:, :3] = True  # borders matter: replicated, not reflected
    expected = _ssim_replicated_reference(pred, gt, mask)
    assert masked_ssim_opencv(pred, gt, mask) == pytest.approx(expected, abs=1e-6)
    assert abs(masked_ssim(pred, gt, mask) - expected) > 1e-6  # a different convention from `ssim`


def test_on_real_photos(dev_data):
    from realbench import load_benchmark

    scene = load_benchmark(dev_data, scenes=["churchill"])["churchill"]
    import cv2

    pred = cv2.resize(scene.refs[0], scene.size[::-1], interpolation=cv2.INTER_AREA)  # a plausible wrong fill
    _, full = structural_similarity(scene.gt, pred, **WANG)
    assert masked_ssim(pred, scene.gt, scene.mask) == pytest.approx(full.mean(axis=2)[scene.mask].mean(), abs=1e-6)
    assert masked_ssim_opencv(pred, scene.gt, scene.mask) == pytest.approx(
        _ssim_replicated_reference(pred, scene.gt, scene.mask), abs=1e-6)
    expected = peak_signal_noise_ratio(scene.gt[scene.mask], pred[scene.mask], data_range=255)
    assert masked_psnr(pred, scene.gt, scene.mask) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("fn", [masked_psnr, masked_ssim, masked_ssim_opencv])
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
    assert masked_psnr(gt, gt, mask) == 100.0  # capped: a perfect sample is 100 dB, never inf
    big = photo(300, 300, 5)
    nearly, everywhere = big.copy(), np.ones((300, 300), bool)
    nearly[10, 10, 0] ^= 1  # one channel of one pixel off by one: 10 log10(255^2 * 270000) = 102.4 dB
    assert masked_psnr(nearly, big, everywhere) == 100.0
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
    for name in ("psnr", "ssim", "ssim_opencv"):
        info = METRICS.get(name).info
        assert info.name == name and info.higher_is_better and info.region == "mask" and not info.needs_weights
