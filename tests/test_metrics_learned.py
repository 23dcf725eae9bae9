"""Learned metrics on replicas of the real weights (real layouts and configs, random values),
loaded through the same resolver users take, each equal to the reference code it is named
after, called directly on identical weights: the lpips package, DINO's own preprocessing with
transformers' ViT, OpenCLIP as it loads a hub repository, the dreamsim package."""
import numpy as np
import pytest
import replicas
import torch
from conftest import photo
from PIL import Image

from realbench import RealBenchError
from realbench.core.scene import Scene
from realbench.metrics import METRICS
from realbench.weights import WeightsMissing

TOL = 1e-6


@pytest.fixture
def weights(weights_dir):
    return weights_dir


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
    metric = METRICS.get(name)(**options)
    metric.load()
    return metric


def _cos(a, b) -> float:
    return float(torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=0))


# ------------------------------------------------------------------ against the reference code

def _reference_lpips(alexnet_path, spatial):
    import lpips
    import torchvision

    ref = lpips.LPIPS(net="alex", version="0.1", spatial=spatial, pnet_rand=True, verbose=False).eval()
    trunk = torchvision.models.alexnet(weights=None).features
    state = torch.load(alexnet_path, weights_only=True)
    trunk.load_state_dict({k.removeprefix("features."): v for k, v in state.items()})
    for block in (ref.net.slice1, ref.net.slice2, ref.net.slice3, ref.net.slice4, ref.net.slice5):
        for index, module in block.named_children():
            module.load_state_dict(trunk[int(index)].state_dict())
    return ref


def _t(image):
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255.0 * 2 - 1


def test_lpips_variants_equal_the_lpips_package(weights):
    scene = _scene()
    samples = _samples(scene)
    spatial_ref = _reference_lpips(weights / "alexnet-owt-7be5be79.pth", True)
    plain_ref = _reference_lpips(weights / "alexnet-owt-7be5be79.pth", False)
    ys, xs = np.nonzero(scene.mask)
    rows, cols = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
    mask = torch.from_numpy(scene.mask.astype(np.float32))
    with torch.no_grad():
        expected = {
            "lpips": [float(spatial_ref(_t(s), _t(scene.gt))[0, 0][torch.from_numpy(scene.mask)].double().mean())
                      for s in samples],
            "lpips_bbox": [float(plain_ref(_t(s[rows, cols].copy()), _t(scene.gt[rows, cols].copy())))
                           for s in samples],
            # the public scripts: scale to [-1, 1], then multiply by the mask (known pixels 0)
            "lpips_zeroed": [float(plain_ref(_t(s) * mask, _t(scene.gt) * mask)) for s in samples],
        }
        black = [float(plain_ref(_t(s * scene.mask[..., None]), _t(scene.gt * scene.mask[..., None]))) for s in samples]
    for name, values in expected.items():
        got = _metric(name)(scene, samples)
        np.testing.assert_allclose(got, values, atol=TOL, err_msg=name)
        assert len(set(np.round(got, 6))) == 3
    # version 1's order (mask, then scale: known pixels black) is a different number
    assert np.abs(np.array(expected["lpips_zeroed"]) - np.array(black)).max() > 1e-3


def test_lpips_bbox_grows_small_boxes_to_64_pixels():
    from realbench.metrics.masked_lpips import bbox

    mask = np.zeros((100, 300), bool)
    mask[2:12, 280:295] = True
    rows, cols = bbox(mask)
    assert (rows.start, rows.stop) == (0, 64) and (cols.start, cols.stop) == (236, 300)
    mask[:] = False
    mask[10:90, 50:200] = True
    assert bbox(mask) == (slice(10, 90), slice(50, 200))


def _dino_reference(folder, crop: bool):
    """DINO's own evaluation preprocessing, written out with torchvision, and transformers' ViT."""
    from torchvision import transforms
    from transformers import ViTModel

    model = ViTModel.from_pretrained(folder, add_pooling_layer=False).eval()
    bicubic = transforms.InterpolationMode.BICUBIC
    size = [transforms.Resize(256, interpolation=bicubic), transforms.CenterCrop(224)] if crop else [
        transforms.Resize((224, 224), interpolation=bicubic)]
    transform = transforms.Compose([*size, transforms.ToTensor(),
                                    transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])

    def embed(image):
        with torch.no_grad():
            return model(pixel_values=transform(Image.fromarray(image))[None]).last_hidden_state[0, 0]
    return embed


@pytest.mark.parametrize("name,crop", [("dino", False), ("dino_crop", True)])
def test_dino_equals_dinos_own_preprocessing_on_the_checkpoint(weights, name, crop):
    scene = _scene(96, 160)  # not square: the crop variant drops the sides
    samples = _samples(scene)
    embed = _dino_reference(weights / "dino-vits16", crop)
    expected = [_cos(embed(s), embed(scene.gt)) for s in samples]
    np.testing.assert_allclose(_metric(name)(scene, samples), expected, atol=TOL)
    assert _metric(name).protocol()["preprocess"]["mean"] == [0.485, 0.456, 0.406]


def test_dino_differs_from_the_hub_processor_and_from_the_crop(weights):
    """The version-1 pipeline (the hub's generic ViT processor) is not DINO's normalisation."""
    from transformers import ViTImageProcessor

    image = _scene(96, 160).gt
    generic = ViTImageProcessor(size={"height": 224, "width": 224})  # bilinear, mean = std = 0.5
    dino, crop = _metric("dino"), _metric("dino_crop")
    with torch.no_grad():
        old = dino._model(**generic(images=image, return_tensors="pt")).last_hidden_state[0, 0]
        new, cropped = dino.embed([image])[0], crop.embed([image])[0]
    assert (new - old).abs().max() > 1e-3 * new.abs().max()
    assert (new - cropped).abs().max() > 1e-3 * new.abs().max()


def test_dinov2_equals_its_checkpoint_processor_and_model(weights):
    from transformers import AutoImageProcessor, AutoModel

    scene = _scene()
    samples = _samples(scene)
    model = AutoModel.from_pretrained(weights / "dinov2-base").eval()
    processor = AutoImageProcessor.from_pretrained(weights / "dinov2-base")
    with torch.no_grad():
        def emb(image):
            return model(**processor(images=image, return_tensors="pt")).last_hidden_state[0, 0]
        expected = [_cos(emb(s), emb(scene.gt)) for s in samples]
    np.testing.assert_allclose(_metric("dinov2")(scene, samples), expected, atol=TOL)


def test_clip_equals_open_clip_loading_the_hub_repository(weights, internet, monkeypatch, tmp_path):
    """OpenCLIP's own hub path (``hf-hub:``, config and weights fetched by huggingface_hub)."""
    import open_clip

    scene = _scene()
    samples = _samples(scene)
    model, _, preprocess = open_clip.create_model_and_transforms(f"hf-hub:{replicas.CLIP_B32}",
                                                                 cache_dir=str(tmp_path / "hf"))
    model.eval()
    with torch.no_grad():
        def emb(image):
            return model.encode_image(preprocess(Image.fromarray(image))[None])[0]
        expected = [_cos(emb(s), emb(scene.gt)) for s in samples]
    np.testing.assert_allclose(_metric("clip")(scene, samples), expected, atol=TOL)
    assert internet.requests_for("open_clip_model.safetensors")  # the reference really went through the hub


def test_dreamsim_equals_the_dreamsim_package(dreamsim_replica):
    from dreamsim import dreamsim

    bundle = dreamsim_replica["bundle"]
    scene = _scene()
    samples = _samples(scene, 2)
    old_hub = torch.hub._hub_dir
    try:
        model, preprocess = dreamsim(pretrained=True, device="cpu", cache_dir=str(bundle))
    finally:
        torch.hub._hub_dir = old_hub
    with torch.no_grad():
        expected = [float(model(preprocess(Image.fromarray(s)), preprocess(Image.fromarray(scene.gt))))
                    for s in samples]
    metric = METRICS.get("dreamsim")(weights={"dreamsim-ensemble": str(bundle)})
    np.testing.assert_allclose(metric(scene, samples), expected, atol=TOL)
    assert metric(scene, [scene.gt.copy()])[0] == pytest.approx(0.0, abs=TOL)
    assert torch.hub._hub_dir == old_hub  # loading the package does not leave torch.hub pointing at the bundle


def test_dreamsim_without_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path / "empty"))
    metric = METRICS.get("dreamsim")()
    assert metric.required_weights() == ["dreamsim-ensemble"]
    with pytest.raises(WeightsMissing) as info:
        metric.load()
    message = str(info.value)
    assert "dreamsim-ensemble" in message and str(tmp_path / "empty") in message
    assert "realbench weights download dreamsim-ensemble" in message and "\n" not in message


# ------------------------------------------------------------------ invariants

METRIC_NAMES = ["lpips", "lpips_bbox", "lpips_zeroed", "dino", "dino_crop", "dinov2", "clip"]
PERFECT = {"lpips": 0.0, "lpips_bbox": 0.0, "lpips_zeroed": 0.0, "dino": 1.0, "dino_crop": 1.0, "dinov2": 1.0,
           "clip": 1.0}


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_identical_images_are_perfect(weights, name):
    scene = _scene()
    assert _metric(name)(scene, [scene.gt.copy()])[0] == pytest.approx(PERFECT[name], abs=1e-6)


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
    assert len(cached._gt_states) == 1  # one ground-truth computation for the scene
    fresh = [_metric(name).score(_metric(name).prepare(scene), scene, [s])[0] for s in samples]
    np.testing.assert_allclose(first, fresh, atol=1e-6)


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


def test_protocols_carry_name_and_version(weights):
    for name, version in (("ssim", 2), ("lpips_zeroed", 2), ("dino", 2), ("lpips", 1), ("psnr", 2)):
        protocol = _metric(name).full_protocol()
        assert protocol["metric"] == name and protocol["version"] == version
