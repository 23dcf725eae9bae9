"""Known pixels stay exact; the feather only touches a band of 2*width pixels around the hole."""
import numpy as np
import pytest
from conftest import photo

from realbench.core.compositing import composite, feather_alpha, feather_band


@pytest.mark.parametrize("width", [0, 1, 3])
def test_known_pixels_exact_outside_feather_band(width):
    target, output = photo(48, 64, 0), photo(48, 64, 1)
    mask = np.zeros((48, 64), bool)
    mask[10:30, 20:40] = True
    out = composite(output, target, mask, width)
    band = feather_band(mask, width)
    np.testing.assert_array_equal(out[mask], output[mask])
    np.testing.assert_array_equal(out[~mask & ~band], target[~mask & ~band])
    if width == 0:
        assert not band.any()
    else:
        assert band.any() and not (out[band] == target[band]).all()
        # the band is within 2*width pixels (Chebyshev) of the hole
        ys, xs = np.nonzero(band)
        assert ys.min() >= 10 - 2 * width and ys.max() <= 29 + 2 * width


def test_alpha_is_one_on_mask_and_monotone():
    mask = np.zeros((30, 30), bool)
    mask[10:20, 10:20] = True
    alpha = feather_alpha(mask, 2)
    assert (alpha[mask] == 1).all() and alpha.min() == 0 and alpha.max() == 1
    row = alpha[15, 20:]
    assert (np.diff(row) <= 0).all()
