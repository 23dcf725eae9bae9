"""homography-warp on a synthetic planar scene and real ones; folder:PATH for outputs made elsewhere."""
import cv2
import numpy as np
import pytest
from PIL import Image

from realbench import RealBenchError, evaluate, leaderboard
from realbench.core.imageio import read_rgb
from realbench.core.scene import Scene
from realbench.metrics.psnr import masked_psnr
from realbench.run.records import read_record_dicts


def _planar_scene(extra_refs=()):
    from skimage import data

    source = cv2.resize(data.astronaut(), (384, 384), interpolation=cv2.INTER_AREA)
    gt = source[64:320, 64:320].copy()
    mask = np.zeros((256, 256), bool)
    mask[90:170, 80:180] = True
    target = gt.copy()
    target[mask] = 255
    H = np.array([[0.95, 0.08, 12.0], [-0.05, 1.02, -6.0], [1e-4, -5e-5, 1.0]])
    ref = cv2.warpPerspective(source, H, (400, 380), flags=cv2.INTER_CUBIC)
    return Scene("planar", "inpaint", (ref, *extra_refs), target, mask, gt)


def test_recovers_a_planar_scene_warped_by_a_known_homography():
    from realbench.methods.homography_warp import HomographyWarp

    scene = _planar_scene()
    image, info = HomographyWarp().fill(scene)
    assert info["references"][0]["status"] == "used" and info["references"][0]["inliers"] > 50
    assert masked_psnr(image, scene.gt, scene.mask) > 30.0


def test_failed_reference_is_skipped_with_reason_and_all_failed_falls_back_to_telea():
    from realbench.methods.homography_warp import HomographyWarp
    from realbench.methods.telea import Telea

    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    scene = _planar_scene(extra_refs=(noise,))
    _, info = HomographyWarp().fill(scene)
    assert info["references"][1]["status"] == "skipped" and info["references"][1]["reason"]
    only_noise = Scene("noise", "inpaint", (noise,), scene.target, scene.mask, scene.gt)
    image, info = HomographyWarp().fill(only_noise)
    assert info["fallback"].startswith("telea")
    np.testing.assert_array_equal(image, Telea().generate(only_noise, [0])[0].image)


def test_deterministic():
    from realbench.methods.homography_warp import HomographyWarp

    scene = _planar_scene()
    np.testing.assert_array_equal(HomographyWarp().fill(scene)[0], HomographyWarp().fill(scene)[0])


def test_single_reference_protocol_makes_one_sample_per_reference(sample_bench, tmp_path):
    """TransFill's protocol (Table 1): sample k warps reference k alone, so the scene's value is
    the mean over its single-reference choices; the default still fuses every reference once."""
    from realbench.core.compositing import composite
    from realbench.methods.homography_warp import HomographyWarp

    scenes = ["astronaut-viewpoint", "chelsea-defocus"]  # 3 and 2 references
    common = dict(scenes=scenes, metrics="psnr", select=False, progress=False)
    single = evaluate("homography-warp", sample_bench, method_config={"references": "one"}, seed=5,
                      out=tmp_path / "one", **common)
    records = read_record_dicts(single.run_dir / "records.jsonl")
    for scene_id in scenes:
        scene = sample_bench[scene_id]
        mine = sorted((r for r in records if r["scene"] == scene_id), key=lambda r: r["sample"])
        assert [r["info"]["reference_index"] for r in mine] == list(range(len(scene.refs)))
        assert [r["seed"] for r in mine] == list(range(len(scene.refs)))  # deterministic: no seed involved
        for k, record in enumerate(mine):
            alone, info = HomographyWarp().fill(scene.with_refs([scene.refs[k]]))
            expected = composite(alone, scene.target, scene.mask, 2)
            np.testing.assert_array_equal(read_rgb(single.run_dir / record["image"]), expected)
            assert [e["reference"] for e in record["info"]["references"]] == [k]
            assert record["info"].get("fallback") == info.get("fallback")
    means = single.summary().set_index("scene")["psnr"]
    for scene_id in scenes:
        values = [r["metrics"]["psnr"] for r in records if r["scene"] == scene_id]
        assert means[scene_id] == pytest.approx(np.mean(values))  # the mean over single-reference choices
    fused = evaluate("homography-warp", sample_bench, out=tmp_path / "all", **common)
    assert len(read_record_dicts(fused.run_dir / "records.jsonl")) == len(scenes)  # one fused sample per scene
    assert HomographyWarp({"references": "one"}).sample_count(sample_bench["astronaut-viewpoint"], 2) == 2


def test_beats_telea_on_real_scenes(dev_data, tmp_path):
    runs = [evaluate(m, str(dev_data), out=tmp_path / m, progress=False).run_dir for m in ("homography-warp", "telea")]
    table = leaderboard(runs).set_index(["method", "split"])
    warp, telea = table.loc[("homography-warp", "all")], table.loc[("telea", "all")]
    assert warp["psnr"] > telea["psnr"] and warp["ssim"] > telea["ssim"]


# ------------------------------------------------------------------ folder:PATH

@pytest.fixture(scope="module")
def noisy_run(sample_bench, tmp_path_factory):
    out = tmp_path_factory.mktemp("made-elsewhere") / "run"
    evaluate("slow_method:SlowNoisyTelea", sample_bench, scenes=["chelsea-defocus", "rocket-style"], samples=2,
             method_config={"delay": 0}, out=out, progress=False)
    return out


def test_folder_round_trips_the_outputs_of_a_run(noisy_run, sample_bench, tmp_path):
    result = evaluate(f"folder:{noisy_run / 'images'}", sample_bench, scenes=["chelsea-defocus", "rocket-style"],
                      out=tmp_path / "scored", progress=False)
    original = {(r["scene"], r["sample"]): r["metrics"] for r in read_record_dicts(noisy_run / "records.jsonl")}
    scored = read_record_dicts(result.run_dir / "records.jsonl")
    assert len(scored) == 4
    for record in scored:
        assert record["metrics"] == original[(record["scene"], record["sample"])]
        assert record["info"]["file"].endswith(f"{record['sample']:03d}.png")


def test_folder_reports_missing_scenes_and_size_mismatch(noisy_run, sample_bench, tmp_path):
    with pytest.raises(RealBenchError, match="no images for 4 of 6 scenes: astronaut-mixed"):
        evaluate(f"folder:{noisy_run / 'images'}", sample_bench, out=tmp_path / "a", progress=False)
    assert not (tmp_path / "a").exists()
    folder = tmp_path / "outputs" / "chelsea-defocus"
    folder.mkdir(parents=True)
    Image.fromarray(np.zeros((100, 120, 3), np.uint8)).save(folder / "x.png")
    with pytest.raises(RealBenchError, match="image is 120x100, target is 256x256"):
        evaluate(f"folder:{tmp_path / 'outputs'}", sample_bench, scenes=["chelsea-defocus"], out=tmp_path / "b",
                 progress=False)
    result = evaluate(f"folder:{tmp_path / 'outputs'}", sample_bench, scenes=["chelsea-defocus"], out=tmp_path / "c",
                      method_config={"resize": True}, progress=False)
    assert read_record_dicts(result.run_dir / "records.jsonl")[0]["info"]["resized_from"] == [120, 100]


def test_folder_scores_as_is_unless_composite(sample_bench, tmp_path):
    scene = sample_bench["chelsea-defocus"]
    folder = tmp_path / "outputs" / scene.id
    folder.mkdir(parents=True)
    Image.fromarray(np.full(scene.target.shape, 128, np.uint8)).save(folder / "grey.png")
    as_is = evaluate(f"folder:{tmp_path / 'outputs'}", sample_bench, scenes=[scene.id], out=tmp_path / "as-is",
                     metrics=["psnr"], progress=False)
    pasted = evaluate(f"folder:{tmp_path / 'outputs'}", sample_bench, scenes=[scene.id], out=tmp_path / "pasted",
                      metrics=["psnr"], method_config={"composite": True}, progress=False)
    from realbench.core.imageio import read_rgb

    grey = read_rgb(as_is.run_dir / "images" / scene.id / "000.png")
    fixed = read_rgb(pasted.run_dir / "images" / scene.id / "000.png")
    assert (grey == 128).all()
    np.testing.assert_array_equal(fixed[~scene.mask], scene.target[~scene.mask])
    # PSNR is masked: the same either way
    assert as_is.records()["psnr"][0] == pasted.records()["psnr"][0]
