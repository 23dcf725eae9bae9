"""Issue 19, root causes 9 and 12: numbers that pass range checks. NaN, infinities, values that
cannot be served and contradictory flags are refused before anything is written (no run folder,
no lock file); the limits themselves accept what they should."""
from __future__ import annotations

import pytest

from ._support import assert_ok, assert_refused, assert_usage_error, changes, snapshot

EVALUATE_REFUSED = {
    "radius-nan": (["--set", "radius=.nan"], ("radius",)),
    "radius-inf": (["--set", "radius=.inf"], ("radius",)),
    "radius-negative-inf": (["--set", "radius=-.inf"], ("radius",)),
    "radius-zero": (["--set", "radius=0"], ("radius",)),
    "radius-a-list": (["--set", "radius=[1, 2]"], ("radius",)),
    "feather-a-billion": (["--set", "feather=1000000000"], ("feather",)),
    "feather-just-wider-than-the-scene": (["--set", "feather=41"], ("feather",)),
    "feather-negative": (["--set", "feather=-1"], ("feather",)),
    "feather-fractional": (["--set", "feather=2.5"], ("feather",)),
    "feather-true": (["--set", "feather=true"], ("feather",)),
    "samples-zero": (["--samples", "0"], ("--samples",)),
    "samples-past-the-bound": (["--samples", "10001"], ("--samples",)),
    "keep-zero": (["--keep", "0"], ("--keep",)),
    "keep-without-selection": (["--keep", "2", "--no-select"], ("--keep", "--no-select")),
    "max-refs-zero": (["--max-refs", "0"], ("--max-refs",)),
    "seed-negative": (["--seed", "-1"], ("--seed",)),
    "seed-past-64-bits": (["--seed", str(2**64)], ("--seed",)),
    "shard-zero-of-three": (["--shard", "0/3"], ("--shard",)),
    "shard-four-of-three": (["--shard", "4/3"], ("--shard",)),
    "shard-of-zero": (["--shard", "1/0"], ("--shard",)),
    "shard-words": (["--shard", "a/b"], ("--shard",)),
    "ray-gpus-nan": (["--ray-gpus-per-task", "nan"], ("--ray-gpus-per-task",)),
    "ray-gpus-negative": (["--ray-gpus-per-task", "-1"], ("--ray-gpus-per-task",)),
    "unknown-setting": (["--set", "radiuss=3"], ("radius",)),
    "a-group-of-nothing": (["--set", "radius.x=3"], ("radius",)),
    "unknown-metric-option": (["--metric-set", "ssim.window=1e9"], ("ssim",)),
    "unknown-split": (["--split", "sideways"], ("sideways",)),
}


@pytest.mark.parametrize("case", list(EVALUATE_REFUSED))
def test_an_impossible_evaluate_flag_is_refused_before_anything_is_written(case, tmp_path, tiny_data, run):
    flags, needles = EVALUATE_REFUSED[case]
    out = tmp_path / "run"
    before = snapshot(tmp_path)
    assert_refused(run("evaluate", "--method", "telea", "--data", tiny_data, "--out", out, *flags), *needles)
    assert changes(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize("method, flags, needles", [
    ("folder:", [], ("folder:",)),
    ("telea", ["--set", "radius=1e23"], ("radius",)),  # YAML 1.1: '1e23' is text, not a number
    ("slow_method:SlowNoisyTelea", ["--samples", "3", "--seed", str(2**63 - 2)], ("--seed", "2**63 - 1")),
], ids=["folder-without-a-path", "radius-as-text", "last-samples-seed-past-64-bits"])
def test_an_impossible_method_is_refused(method, flags, needles, tmp_path, tiny_data, run):
    out = tmp_path / "run"
    assert_refused(run("evaluate", "--method", method, "--data", tiny_data, "--out", out, *flags), *needles)
    assert not out.exists()



@pytest.mark.parametrize("method, setting, why", [
    pytest.param("homography-warp", "ring=1000000000", ""),
    pytest.param("homography-warp", "max_features=1000000000000", ""),
    pytest.param("telea", "radius=100000000000000000000000", ""),
], ids=["homography-ring-1e9", "homography-max-features-1e12", "telea-radius-1e23"])
def test_a_setting_far_wider_than_any_scene_is_refused_before_the_run(method, setting, why, tmp_path, tiny_data, run):
    out = tmp_path / "run"
    assert_refused(run("evaluate", "--method", method, "--data", tiny_data, "--set", setting, "--out", out),
                   setting.split("=")[0])
    assert not out.exists()


def test_an_empty_scene_list_is_refused(tmp_path, tiny_data, run):
    out = tmp_path / "run"
    assert_refused(run("evaluate", "--method", "telea", "--data", tiny_data, "--scenes", ",", "--out", out),
                   "--scenes")
    assert not out.exists()


@pytest.mark.parametrize("flags", [["--samples", "1e30"], ["--samples", "nan"], ["--max-pixels", "0"],
                                   ["--max-pixels", "-1"], ["--max-pixels", "abc"], ["--max-pixels", "1.5"],
                                   ["--seed", "inf"]],
                         ids=["samples-1e30", "samples-nan", "max-pixels-0", "max-pixels-negative",
                              "max-pixels-text", "max-pixels-fractional", "seed-inf"])
def test_a_flag_value_of_the_wrong_kind_is_a_usage_error(flags, tmp_path, tiny_data, run):
    out = tmp_path / "run"
    assert_usage_error(run("evaluate", "--method", "telea", "--data", tiny_data, "--out", out, *flags), flags[0])
    assert not out.exists()


@pytest.mark.parametrize("value", ["abc", "-1", "0", " ", "120_000_000x"])
def test_a_pixel_limit_in_the_environment_that_means_nothing_is_refused(value, tmp_path, tiny_data, monkeypatch, run):
    monkeypatch.setenv("REALBENCH_MAX_PIXELS", value)
    out = tmp_path / "run"
    assert_refused(run("evaluate", "--method", "telea", "--data", tiny_data, "--out", out), "REALBENCH_MAX_PIXELS")
    assert not out.exists()


def test_a_pixel_limit_is_a_real_limit(tmp_path, tiny_data, monkeypatch, run):
    """1 pixel below the scenes' size refuses them, their size accepts them: the limit is exact."""
    pixels = 40 * 32
    monkeypatch.setenv("REALBENCH_MAX_PIXELS", str(pixels - 1))
    assert_refused(run("data", "info", "--data", tiny_data), "40x32", f"{pixels - 1:,}")
    monkeypatch.setenv("REALBENCH_MAX_PIXELS", str(pixels))
    # references are 8 rows taller than the target in this data: 40x40
    assert_refused(run("data", "info", "--data", tiny_data), "40x40")
    monkeypatch.setenv("REALBENCH_MAX_PIXELS", str(40 * 40))
    assert_ok(run("data", "info", "--data", tiny_data))


@pytest.mark.parametrize("flag, value, needles", [
    ("--atol", "psnr=-1", ("--atol",)), ("--atol", "psnr=.nan", ("--atol",)), ("--atol", "psnr=.inf", ("--atol",)),
    ("--atol", "psnr=nan", ("--atol",)), ("--atol", "psnr=abc", ("--atol",)), ("--rtol", "ssim=-0.1", ("--rtol",)),
    ("--atol", "psnr", ("--atol",)), ("--atol", "lpips=0.1", ("lpips",)),
])
def test_a_tolerance_that_means_nothing_is_refused(flag, value, needles, tmp_path, base_run, run):
    baseline = tmp_path / "baseline.csv"
    assert_ok(run("leaderboard", base_run, "--out", baseline))
    assert_refused(run("check", base_run, "--baseline", baseline, flag, value), *needles)


def test_identical_values_pass_a_zero_tolerance(tmp_path, base_run, run):
    baseline = tmp_path / "baseline.csv"
    assert_ok(run("leaderboard", base_run, "--out", baseline))
    assert_ok(run("check", base_run, "--baseline", baseline, "--atol", "psnr=0", "--rtol", "ssim=0"))


@pytest.mark.parametrize("rates", ["nan", "-1", "100", "abc", "1e308", "inf"])
def test_a_filter_rate_outside_its_range_is_refused(rates, base_run, run):
    assert_refused(run("leaderboard", base_run, "--filter-rates", rates), "filter")


def _scene_of_size(root, height: int, width: int):
    """One scene of ``height`` x ``width`` with a hole in the middle columns (and rows, if any)."""
    import numpy as np
    from PIL import Image

    folder = root / "s1"
    (folder / "ref").mkdir(parents=True)
    (folder / "target").mkdir()
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), np.uint8)
    mask[height // 3: max(height // 3 + 1, height // 2), width // 3: width // 2] = 255
    target = truth.copy()
    target[mask > 0] = 255
    for name, array in (("gt", truth), ("target", target), ("mask", mask)):
        Image.fromarray(array).save(folder / "target" / f"{name}.png")
    Image.fromarray(truth).save(folder / "ref" / "0.png")
    return root


@pytest.mark.parametrize("height, width", [(1, 4000), (4000, 1), (7, 7)])
def test_a_target_too_thin_to_complete_is_refused(height, width, tmp_path, run):
    data = _scene_of_size(tmp_path / "data", height, width)
    out = tmp_path / "run"
    assert_refused(run("evaluate", "--method", "homography-warp", "--data", data, "--out", out),
                   "s1", f"{width}x{height}")
    assert not out.exists()


@pytest.mark.parametrize("height, width", [(8, 2000), (2000, 8), (8, 8)])
def test_the_thinnest_target_allowed_runs_with_seed_selection(height, width, tmp_path, run):
    data = _scene_of_size(tmp_path / "data", height, width)
    assert_ok(run("evaluate", "--method", "homography-warp", "--data", data, "--out", tmp_path / "run", "--keep", "1"))


def test_the_pixel_limit_message_states_the_size_it_refused(tmp_path, tiny_data, monkeypatch, run):
    monkeypatch.setenv("REALBENCH_MAX_PIXELS", "1000")
    error = assert_refused(run("data", "info", "--data", tiny_data), "40x32", "1,000")
    assert "0.0 megapixels" not in error and "1,280" in error
