"""Learned metrics with tiny random weights, loaded through the same resolver users take,
compared with the reference packages (lpips, transformers, open_clip) run directly."""
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import photo
from metrics import METRICS
from realbench import RealBenchError
from realbench.scene import Scene
from realbench.weights import WeightsMissing
from tiny_models import TINY_CLIP, FakeDreamSimBackend, make_weights_dir, register_tiny_clip

CLIP_OPTIONS = {"model": TINY_CLIP, "pretrained": "random"}


@pytest.fixture(scope="module")
def weights_root(tmp_path_factory):
    return make_weights_dir(tmp_path_factory.mktemp("weights"))


@pytest.fixture
def weights(weights_root, monkeypatch):
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(weights_root))
    register_tiny_clip(weights_root)
    return weights_root


def _scene(h=96, w=112, seed=0):
    gt = photo(h, w, seed)
    mask = np.zeros((h, w), bool)
    mask[16:84, 24:100] = True  # at least 64 px a side, so lpips_bbox needs no growth
    target = gt.copy()
    target[mask] = 255
    return Scene("s", "inpaint", (photo(64, 64, 5),), target, mask, gt)


def _samples(scene, n=3, seed=1):
    out = []
    for k in range(n):
        noisy = np.clip(scene.gt + np.random.default_rng(seed + k).normal(0, 25 + 10 * k, scene.gt.shape), 0, 255)
        image = scene.gt.copy()
        image[scene.mask] = noisy.astype(np.uint8)[scene.mask]
        out.append(image)
    return out


def _metric(name, **options):
    if name == "clip":
        options = {**CLIP_OPTIONS, **options}
    metric = METRICS.get(name)(**options)
    metric.load()
    return metric


# ------------------------------------------------------------------ against the reference packages

def _reference_lpips(weights_root, spatial):
    import lpips
    import torchvision

    ref = lpips.LPIPS(net="alex", version="0.1", spatial=spatial, pnet_rand=True, verbose=False).eval()
    trunk = torchvision.models.alexnet(weights=None).features
    state = torch.load(weights_root / "alexnet-owt-7be5be79.pth", weights_only=True)
    trunk.load_state_dict({k.removeprefix("features."): v for k, v in state.items()})
    for block in (ref.net.slice1, ref.net.slice2, ref.net.slice3, ref.net.slice4, ref.net.slice5):
        for index, module in block.named_children():
            module.load_state_dict(trunk[int(index)].state_dict())
    return ref


def _t(image):
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255.0 * 2 - 1


def test_lpips_variants_match_the_lpips_package(weights):
    scene = _scene()
    samples = _samples(scene)
    spatial_ref, plain_ref = _reference_lpips(weights, True), _reference_lpips(weights, False)
    ys, xs = np.nonzero(scene.mask)
    rows, cols = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
    keep = scene.mask[..., None].astype(np.uint8)
    with torch.no_grad():
        expected = {
            "lpips": [float(spatial_ref(_t(s), _t(scene.gt))[0, 0][torch.from_numpy(scene.mask)].double().mean())
                      for s in samples],
            "lpips_bbox": [float(plain_ref(_t(s[rows, cols].copy()), _t(scene.gt[rows, cols].copy()))) for s in samples],
            "lpips_zeroed": [float(plain_ref(_t(s * keep), _t(scene.gt * keep))) for s in samples],
        }
    for name, values in expected.items():
        got = _metric(name)(scene, samples)
        np.testing.assert_allclose(got, values, atol=1e-6, err_msg=name)
        assert len(set(np.round(got, 6))) == 3


def test_lpips_bbox_grows_small_boxes_to_64_pixels():
    from metrics.masked_lpips import bbox

    mask = np.zeros((100, 300), bool)
    mask[2:12, 280:295] = True
    rows, cols = bbox(mask)
    assert (rows.start, rows.stop) == (0, 64) and (cols.start, cols.stop) == (236, 300)
    mask[:] = False
    mask[10:90, 50:200] = True
    assert bbox(mask) == (slice(10, 90), slice(50, 200))


def test_dino_matches_a_direct_transformers_forward(weights):
    from transformers import ViTImageProcessor, ViTModel

    scene = _scene()
    samples = _samples(scene)
    model = ViTModel.from_pretrained(weights / "dino-vits16").eval()
    processor = ViTImageProcessor.from_pretrained(weights / "dino-vits16")
    with torch.no_grad():
        def emb(image):
            return model(**processor(images=image, return_tensors="pt")).last_hidden_state[0, 0].double()
        expected = [float(torch.nn.functional.cosine_similarity(emb(s), emb(scene.gt), dim=0)) for s in samples]
    np.testing.assert_allclose(_metric("dino")(scene, samples), expected, atol=1e-6)


def test_clip_matches_a_direct_open_clip_forward(weights):
    import open_clip

    scene = _scene()
    samples = _samples(scene)
    path = weights / f"clip-{TINY_CLIP}-random" / "open_clip_pytorch_model.bin"
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_CLIP, pretrained=str(path))
    model.eval()
    with torch.no_grad():
        def emb(image):
            return model.encode_image(preprocess(Image.fromarray(image))[None])[0].double()
        expected = [float(torch.nn.functional.cosine_similarity(emb(s), emb(scene.gt), dim=0)) for s in samples]
    np.testing.assert_allclose(_metric("clip")(scene, samples), expected, atol=1e-6)


def test_dreamsim_with_injected_backend_is_one_minus_cosine():
    scene = _scene()
    samples = _samples(scene)
    backend = FakeDreamSimBackend()
    metric = METRICS.get("dreamsim")(backend=backend)
    assert metric.required_weights() == []

    def emb(image):
        resized = np.asarray(Image.fromarray(image).resize((224, 224), Image.BICUBIC)).astype(np.float32) / 255
        return backend.embed(torch.from_numpy(resized).permute(2, 0, 1)[None])[0].double()

    expected = [1 - float(torch.nn.functional.cosine_similarity(emb(s), emb(scene.gt), dim=0)) for s in samples]
    np.testing.assert_allclose(metric(scene, samples), expected, atol=1e-6)


def test_dreamsim_real_package_path_without_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path / "empty"))
    metric = METRICS.get("dreamsim")()
    assert metric.required_weights() == ["dreamsim-ensemble"]
    with pytest.raises(WeightsMissing) as info:
        metric.load()
    message = str(info.value)
    assert "dreamsim-ensemble" in message and str(tmp_path / "empty") in message
    assert "realbench weights download dreamsim-ensemble" in message and "\n" not in message


# ------------------------------------------------------------------ invariants

METRIC_NAMES = ["lpips", "lpips_bbox", "lpips_zeroed", "dino", "clip"]
PERFECT = {"lpips": 0.0, "lpips_bbox": 0.0, "lpips_zeroed": 0.0, "dino": 1.0, "clip": 1.0, "dreamsim": 0.0}


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_identical_images_are_perfect(weights, name):
    scene = _scene()
    assert _metric(name)(scene, [scene.gt.copy()])[0] == pytest.approx(PERFECT[name], abs=1e-6)


def test_dreamsim_identical_is_zero():
    scene = _scene()
    metric = METRICS.get("dreamsim")(backend=FakeDreamSimBackend())
    assert metric(scene, [scene.gt.copy()])[0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", ["lpips", "lpips_bbox", "lpips_zeroed"])
def test_masked_lpips_ignores_pixels_outside_the_mask(weights, name):
    # a wide image: the hole on the left, changes on the far right (beyond AlexNet's receptive field for `lpips`)
    gt = photo(64, 640, 3)
    mask = np.zeros((64, 640), bool)
    mask[16:48, 20:100] = True
    target = gt.copy()
    target[mask] = 255
    scene = Scene("wide", "inpaint", (gt,), target, mask, gt)
    sample = _samples(scene, 1)[0]
    changed = sample.copy()
    far = slice(380, 640) if name == "lpips" else slice(120, 640)
    changed[:, far] = 255 - changed[:, far]
    metric = _metric(name)
    assert metric(scene, [changed])[0] == pytest.approx(metric(scene, [sample])[0], abs=1e-6)


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_batched_equals_one_by_one(weights, name):
    scene = _scene()
    samples = _samples(scene, 5)
    batched = _metric(name, batch_size=4)(scene, samples)
    single = [_metric(name, batch_size=1)(scene, [s])[0] for s in samples]
    np.testing.assert_allclose(batched, single, atol=1e-5)


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_gt_cache_gives_the_same_numbers_as_no_cache(weights, name):
    scene = _scene()
    samples = _samples(scene, 3)
    cached = _metric(name)
    first = cached(scene, samples[:2]) + cached(scene, samples[2:])
    assert len(cached._references) == 1  # one ground-truth computation for the scene
    fresh = [_metric(name).score(_metric(name).prepare(scene), scene, [s])[0] for s in samples]
    np.testing.assert_allclose(first, fresh, atol=1e-6)


def test_dreamsim_gt_embedded_once_per_scene():
    scene = _scene()
    backend = FakeDreamSimBackend()
    metric = METRICS.get("dreamsim")(backend=backend, batch_size=2)
    metric(scene, _samples(scene, 4))
    metric(scene, _samples(scene, 2, seed=7))
    assert backend.calls == 1 + 2 + 1  # GT once, then batches of two


def test_unknown_metric_option_is_an_error(weights):
    with pytest.raises(RealBenchError, match="has no setting 'modle'"):
        METRICS.get("clip")(modle="ViT-B-32")


def test_explicit_weights_path_wins_and_a_wrong_one_is_an_error(weights, tmp_path, monkeypatch):
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path / "nothing-here"))
    metric = METRICS.get("lpips")(weights={"alexnet": str(weights / "alexnet-owt-7be5be79.pth")})
    metric.load()
    assert metric.protocol()["weights"].startswith("alexnet@")
    with pytest.raises(RealBenchError, match="not usable"):
        METRICS.get("lpips")(weights={"alexnet": str(tmp_path / "typo.pth")}).load()
