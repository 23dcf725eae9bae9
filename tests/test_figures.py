"""The paper's figures (realbench.figures): Fig. 5's overlay, Fig. 6's order and Spearman's rho,
Fig. 8's grouping of runs that differ only in --max-refs, Table 2 as a plot, and PNG files that
name their runs and data. Small runs on the built-in sample, made once for the module."""
from __future__ import annotations

import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import make_scene
from PIL import Image
from scipy import stats

import realbench
from realbench.core.imageio import read_rgb
from realbench.data.loading import load_benchmark
from realbench.summarise.figure_common import shrink
from realbench.summarise.figure_comparison import comparison_figure, overlaid_panel, white_overlay
from realbench.summarise.figure_filtering import RATES, filter_rate_figure
from realbench.summarise.figure_ranking import (
    POOLED,
    correspondence_correlations,
    correspondence_scatter,
    ranking_figure,
)
from realbench.summarise.figure_references import NO_GROUP, reference_curve, reference_figure, reference_groups
from realbench.summarise.figures import make_figures
from realbench.summarise.leaderboards import leaderboard
from realbench.summarise.runview import read_runs
from realbench.summarise.stats import bootstrap_ci

SCENES = ["chelsea-defocus", "motorcycle-stereo", "rocket-style"]  # 2 refs each; rocket-style: 0 matches always
SLOW_LABEL = "_slow $a$"  # drawn literally: no mathtext, not dropped from a legend


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("figure-runs")

    def run(name, method="telea", scenes=SCENES, **kwargs):
        return realbench.evaluate(method, "sample", scenes=scenes, out=root / name, progress=False, **kwargs).run_dir

    return {
        "telea": run("telea"),
        "refs1": run("refs1", max_refs=1),
        "radius3-refs1": run("radius3-refs1", scenes=SCENES[:1], max_refs=1, method_config={"radius": 3}),
        "seed1-refs1": run("seed1-refs1", scenes=SCENES[:1], max_refs=1, seed=1),
        "slow": run("slow", "slow_method:SlowNoisyTelea", samples=3, method_config={"delay": 0}, label=SLOW_LABEL),
        "unranked": run("unranked", select=False, label="unranked"),
    }


@pytest.fixture(scope="module")
def scenes():
    return {s.id: s for s in load_benchmark("sample", SCENES)}


def _close(fig):
    plt.close(fig)


def test_white_overlay_blends_white_over_the_known_region_only():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    known = rng.random((20, 30)) < 0.5
    out = white_overlay(image, known)
    assert np.array_equal(out[known], 0.5 * image[known].astype(np.float64) + 0.5 * 255)
    assert np.array_equal(out[~known], image[~known].astype(np.float64))
    assert image.dtype == np.uint8 and out.dtype == np.float64  # not rounded, the input untouched


def test_a_large_output_is_overlaid_at_full_size_then_shrunk(scenes):
    scene = scenes["chelsea-defocus"]
    big = np.kron(scene.gt, np.ones((4, 4, 1), np.uint8))  # 1024 px: shrunk to the panel size
    panel = overlaid_panel(big, scene, max_side=256)
    known = np.kron(~scene.mask, np.ones((4, 4), bool))
    assert panel.shape == scene.gt.shape
    assert np.allclose(panel, white_overlay(scene.gt, ~scene.mask), atol=1e-3)  # 4x4 blocks average back
    assert np.allclose(panel, shrink(white_overlay(big, known), 256), atol=0)


def test_fig5_shows_each_runs_best_output_under_the_overlay(runs, scenes):
    views = read_runs([runs["telea"], runs["slow"]])
    scene = scenes["chelsea-defocus"]
    fig = comparison_figure(views, scene)
    try:
        panels = [ax for ax in fig.axes if ax.get_visible()]
        assert [ax.get_title() for ax in panels] == ["reference 1", "reference 2", "target", "ground truth", "telea",
                                                     SLOW_LABEL]
        drawn = [np.asarray(ax.images[0].get_array()) for ax in panels]
        known = ~scene.mask
        slow = views[1]
        best = max((r for r in slow.raw if r.scene == scene.id), key=lambda r: (r.metrics["psnr"], -r.sample))
        expected = white_overlay(read_rgb(slow.path / best.image), known) / 255.0
        assert np.array_equal(drawn[5], expected)
        assert np.array_equal(drawn[3], white_overlay(scene.gt, known) / 255.0)
        assert np.array_equal(drawn[2], scene.target)  # the target is shown as it is
        assert f"sample {best.sample}: psnr" in panels[5].get_xlabel()
        assert not any(t.get_parse_math() for ax in panels for t in [ax.title])  # "$a$" drawn literally
    finally:
        _close(fig)


def test_fig6_orders_samples_by_correspondences_with_their_counts(runs):
    view = read_runs([runs["slow"]])[0]
    for scene in ("chelsea-defocus", "rocket-style"):
        fig = ranking_figure(view, scene)
        try:
            labels = [ax.get_xlabel() for ax in fig.axes if ax.get_visible()]
        finally:
            _close(fig)
        records = sorted((r for r in view.raw if r.scene == scene), key=lambda r: (-r.correspondences, r.sample))
        shown = [(int(m.group(1)), int(m.group(2))) for m in (re.search(r"(\d+) matches\nsample (\d+)", t)
                                                               for t in labels)]
        assert shown == [(r.correspondences, r.sample) for r in records]


def test_fig6_spearman_per_scene_and_pooled_equal_scipy(runs):
    view = read_runs([runs["slow"]])[0]
    table = correspondence_correlations(view).set_index(["metric", "scene"])
    centred_x, centred_y = [], []
    for scene in ("chelsea-defocus", "motorcycle-stereo"):  # matches vary: rho defined
        records = [r for r in view.raw if r.scene == scene]
        x = np.array([r.correspondences for r in records], float)
        y = np.array([r.metrics["psnr"] for r in records])
        assert table.loc[("psnr", scene), "rho"] == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
        centred_x.append(x - x.mean())
        centred_y.append(y - y.mean())
    assert np.isnan(table.loc[("psnr", "rocket-style"), "rho"])  # 0 matches in every sample: undefined
    pooled = stats.spearmanr(np.concatenate(centred_x), np.concatenate(centred_y)).statistic
    assert table.loc[("psnr", POOLED), "rho"] == pytest.approx(pooled, abs=1e-12)
    assert table.loc[("psnr", POOLED), "samples"] == 6
    fig = correspondence_scatter(view)
    try:
        texts = [ax.get_title() for ax in fig.axes] + [t.get_text() for ax in fig.axes for t in ax.get_legend().texts]
    finally:
        _close(fig)
    assert f"psnr ↑: pooled rho {pooled:+.2f} (n=6)" in texts
    assert "rocket-style: rho n/a (n=3)" in texts


def test_fig8_groups_exactly_the_runs_that_differ_only_in_max_refs(runs, scenes):
    names = ["telea", "refs1", "radius3-refs1", "seed1-refs1", "slow"]
    views = read_runs([runs[n] for n in names], allow_mixed_data=True)
    groups, refused = reference_groups(views, scenes)
    assert [[v.path for v in group] for group in groups] == [[runs["refs1"], runs["telea"]]]  # limit 1, then all
    assert refused == []
    other_config = read_runs([runs["telea"], runs["radius3-refs1"]], allow_mixed_data=True)
    assert reference_groups(other_config, scenes) == ([], [])
    # scenes whose references are not the ones the runs used: the runs' content cannot be proven
    swapped = {k: s.with_refs(list(s.refs[::-1])) for k, s in scenes.items()}
    groups, refused = reference_groups(views[:2], swapped)
    assert groups == [] and {label for label, _ in refused} == {views[0].label, views[1].label}
    assert all("checksum" in why for _, why in refused)


def test_fig8_draws_scene_means_with_bootstrap_intervals(runs, scenes):
    group = read_runs([runs["refs1"], runs["telea"]], allow_mixed_data=True)
    curve = reference_curve(group, scenes)
    for view in group:
        for metric in ("psnr", "ssim"):
            values = [np.mean([r.metrics[metric] for r in view.raw if r.scene == s]) for s in SCENES]
            row = curve[(curve["run"] == view.label) & (curve["metric"] == metric)].iloc[0]
            assert row["mean"] == pytest.approx(np.mean(values), abs=1e-12)
            assert (row["ci95_low"], row["ci95_high"]) == pytest.approx(bootstrap_ci(values), abs=1e-12)
    assert list(curve[curve["metric"] == "psnr"]["references"]) == ["1", "all (2)"]
    fig = reference_figure(group, scenes)
    try:
        drawn = [list(ax.lines[0].get_ydata()) for ax in fig.axes]
    finally:
        _close(fig)
    assert drawn == [list(curve[curve["metric"] == m]["mean"]) for m in ("psnr", "ssim")]


def test_table2_plot_draws_the_leaderboards_numbers(runs):
    views = read_runs([runs["telea"], runs["slow"]])
    fig = filter_rate_figure(views)
    try:
        axes = fig.axes
        lines = {(ax.get_ylabel(), text.get_text()): list(line.get_ydata())
                 for ax in axes for line, text in zip(ax.lines, ax.get_legend().texts, strict=True)}
        x = list(axes[0].lines[0].get_xdata())
    finally:
        _close(fig)
    table = leaderboard([runs["telea"], runs["slow"]], filter_rates=list(RATES))
    assert x == [float(r) for r in RATES]
    for label in ("telea", SLOW_LABEL):
        for metric, arrow in (("psnr", "↑"), ("ssim", "↑")):
            expected = [table[(table["run"] == label) & (table["filter"] == f"{r}%")][metric].item() for r in RATES]
            assert lines[(f"{metric} {arrow}", label)] == expected


def test_make_figures_writes_pngs_that_name_their_runs_and_skips_what_they_cannot_support(runs, tmp_path):
    out = tmp_path / "figures"
    result = make_figures([runs["telea"], runs["refs1"], runs["slow"], runs["unranked"]], out, dpi=50)
    views = read_runs([runs["telea"], runs["refs1"], runs["slow"], runs["unranked"]], allow_mixed_data=True)
    slow = next(v for v in views if v.label == SLOW_LABEL)
    names = {f.name for f in result.figures}
    assert {f"fig5-{s}" for s in SCENES} <= names
    assert sum(n.startswith("fig6-") for n in names) == len(SCENES) + 1  # the slow run: a ranking per scene + scatter
    assert sum(n.startswith("fig8-") for n in names) == 1 and "table2-filter-rates" in names
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in names)  # no temp file left
    for figure in result.figures:
        with Image.open(io.BytesIO(figure.path.read_bytes())) as image:
            image.load()
            assert image.format == "PNG" and image.width >= 200 and image.height >= 100
        shown = [v for v in views if v.label in figure.caption]
        assert shown and all(v.config_hash in figure.caption and v.checksum[:8] in figure.caption for v in shown)
    assert all(v.label in next(f.caption for f in result.figures if f.name == "fig5-rocket-style")
               for v in views if v.label != "telea(max_refs=1)")
    assert slow.data in next(f.caption for f in result.figures if f.name.startswith("fig6-scatter"))
    skipped = dict(result.skipped)
    assert "one sample per scene" in skipped["fig6-telea"]
    assert "no correspondence scores" in skipped["fig6-unranked"]
    assert "no correspondence scores" in skipped["table2 (unranked)"]
    assert "other data" in skipped["fig5, table2 (telea(max_refs=1))"]


def test_make_figures_without_scene_pictures_or_max_refs_variants_skips_with_reasons(runs, tmp_path):
    result = make_figures([runs["telea"], runs["unranked"]], tmp_path / "f", data=str(tmp_path / "gone"),
                          kinds=("fig5", "fig6", "fig8"))
    skipped = dict(result.skipped)
    assert "cannot be loaded" in skipped["fig5"] and "cannot be loaded" in skipped["fig8"]
    assert result.figures == [] and set(skipped) == {"fig5", "fig8", "fig6-telea", "fig6-unranked"}
    result = make_figures([runs["telea"], runs["unranked"]], tmp_path / "g", kinds=["fig8"])
    assert result.figures == [] and result.skipped == [("fig8", NO_GROUP)]
    with pytest.raises(realbench.RealBenchError, match="unknown figure 'fig7'"):
        make_figures([runs["telea"]], tmp_path / "h", kinds=["fig7"])


def test_fig5_refuses_pictures_that_are_not_the_scenes_the_runs_scored(runs, tmp_path):
    for index, scene in enumerate(SCENES):  # same ids, other pictures
        make_scene(tmp_path / "other", scene, size=(256, 256), seed=index)
    result = make_figures([runs["telea"], runs["refs1"]], tmp_path / "f", data=str(tmp_path / "other"),
                          kinds=("fig5", "fig8"))
    skipped = dict(result.skipped)
    assert "other content" in skipped["fig5"] and "telea" in skipped["fig5"]
    assert "other content" in skipped["fig8 (telea)"] and "other content" in skipped["fig8 (telea(max_refs=1))"]
    assert result.figures == []
