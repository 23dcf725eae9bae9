"""The contract every registered method and metric keeps, checked for each one the registries
find, so a new plugin file is tested the moment it exists (no list or count to update).

Metrics: metadata present and consistent; the protocol records name and version; batched
scoring equals one-by-one; identical images score their best value; bad input is one
``RealBenchError``. Methods: metadata and typed settings; a run records the method's identity;
``generate`` on several seeds at once equals one seed at a time (up to float rounding: one level in
a few pixels for diffusion models, which is why runs batch in index-aligned blocks); bad settings are one
``RealBenchError``. Weights come from the replicas (tests/replicas.py); a method that needs a
model gets a tiny random one through ``CONFIGS``.
"""
import dataclasses
import json
import math

import numpy as np
import pytest
from conftest import photo
from PIL import Image
from tiny_diffusion import save_tiny_paint_by_example, save_tiny_sd_inpainting, save_tiny_sd_text_to_image

from realbench import RealBenchError, evaluate
from realbench.core.provenance import canonical_json
from realbench.core.scene import Scene
from realbench.methods import METHODS, Method, MethodInfo
from realbench.metrics import METRICS, Metric, MetricInfo

SCENE = "chelsea-defocus"
TINY_TRAIN = {"train": {"steps": 2, "batch_size": 4, "resolution": 64, "checkpoint_every": 1000},
              "sample": {"steps": 2, "batch": 4}}
# how to build methods that need a model: the tiny random ones (anything else runs on its defaults)
CONFIGS = {
    "realfill": lambda models: {"model": str(models["sd"]), **TINY_TRAIN},
    "dreambooth": lambda models: {"model": str(models["sd-base"]), **TINY_TRAIN},
    "sd-inpaint": lambda models: {"model": str(models["sd"]), "steps": 2, "resolution": 64},
    "paint-by-example": lambda models: {"model": str(models["pbe"]), "steps": 2, "resolution": 64},
    "folder": lambda models: {"path": str(models["folder"])},
}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    outputs = root / "outputs" / SCENE  # images made elsewhere, for folder:PATH
    outputs.mkdir(parents=True)
    for k in range(6):
        Image.fromarray(photo(256, 256, 40 + k)).save(outputs / f"{k:02d}.png")
    return {"sd": save_tiny_sd_inpainting(root / "sd"), "pbe": save_tiny_paint_by_example(root / "pbe"),
            "sd-base": save_tiny_sd_text_to_image(root / "sd-base"), "folder": root / "outputs"}


@pytest.fixture
def every_weight(weights_dir, request):
    """$REALBENCH_WEIGHTS_DIR holding the replicas the metric under test needs: DreamSim's
    real-size bundle is built only for a metric that asks for it."""
    if "dreamsim-ensemble" in METRICS.get(request.node.callspec.params["name"])().required_weights():
        bundle = request.getfixturevalue("dreamsim_replica")["bundle"]
        (weights_dir / "dreamsim-ensemble").symlink_to(bundle, target_is_directory=True)
    return weights_dir


def _scene(h=96, w=112) -> Scene:
    gt = photo(h, w, 0)
    mask = np.zeros((h, w), bool)
    mask[16:84, 24:100] = True
    target = gt.copy()
    target[mask] = 255
    return Scene("contract", "inpaint", (photo(80, 96, 5), photo(72, 112, 6)), target, mask, gt)


def _samples(scene: Scene, n: int) -> list[np.ndarray]:
    out = []
    for k in range(n):
        noisy = np.clip(scene.gt + np.random.default_rng(k).normal(0, 20 + 10 * k, scene.gt.shape), 0, 255)
        image = scene.gt.copy()
        image[scene.mask] = noisy.astype(np.uint8)[scene.mask]
        out.append(image)
    return out


# ---------------------------------------------------------------------- metrics

@pytest.mark.parametrize("name", METRICS.names())
def test_metric_metadata(name):
    cls = METRICS.get(name)
    assert isinstance(cls, type) and issubclass(cls, Metric), f"{name} is registered but is not a Metric"
    info = cls.info
    assert isinstance(info, MetricInfo) and info.name == name
    assert isinstance(info.higher_is_better, bool) and info.region in ("mask", "full")
    assert info.level in ("low", "mid", "high") and info.range[0] < info.range[1]
    assert info.description and isinstance(info.version, int) and info.version >= 1
    assert 0 < info.default_atol <= info.gpu_atol
    assert dataclasses.is_dataclass(cls.Options) and cls.default_options == dataclasses.asdict(cls.Options())


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_protocol_batching_and_perfect_score(name, every_weight):
    cls = METRICS.get(name)
    scene, samples = _scene(), _samples(_scene(), 3)  # batches of 2: one full, one partial
    batch = {"batch_size": 2} if "batch_size" in cls.default_options else {}
    metric = cls(**batch)
    metric.load()
    protocol = metric.full_protocol()
    assert protocol["metric"] == name and protocol["version"] == cls.info.version
    assert json.loads(canonical_json(protocol)) == json.loads(json.dumps(protocol))  # JSON as recorded
    batched = metric(scene, samples)
    single = [cls(**({"batch_size": 1} if batch else {}))(scene, [s])[0] for s in samples]
    np.testing.assert_allclose(batched, single, atol=1e-5)
    lo, hi = cls.info.range
    assert all(lo - 1e-6 <= v <= hi + 1e-6 for v in batched if math.isfinite(v))
    best = metric(scene, [scene.gt.copy()])[0]
    assert best == pytest.approx(hi if cls.info.higher_is_better else lo, abs=1e-5) or (
        cls.info.higher_is_better and best >= max(batched))  # PSNR: capped, not the range's end


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_bad_input_is_one_error(name, every_weight):
    cls = METRICS.get(name)
    scene = _scene()
    metric = cls()
    with pytest.raises(RealBenchError, match="has no setting"):
        cls(no_such_option=1)
    with pytest.raises(RealBenchError, match="scene 'contract'.*expected a"):
        metric(scene, [scene.gt[:50]])
    with pytest.raises(RealBenchError, match="scene 'contract'"):
        metric(scene, [scene.gt.astype(np.float32)])
    with pytest.raises(RealBenchError, match="ground truth"):
        metric(Scene("nogt", "inpaint", scene.refs, scene.target, scene.mask, None), [scene.gt])


# ---------------------------------------------------------------------- methods

@pytest.mark.parametrize("name", METHODS.names())
def test_method_metadata_and_settings(name):
    cls = METHODS.get(name)
    assert isinstance(cls, type) and issubclass(cls, Method), f"{name} is registered but is not a Method"
    assert isinstance(cls.info, MethodInfo) and cls.info.name == name and cls.info.description
    assert isinstance(cls.info.stochastic, bool) and isinstance(cls.info.needs_weights, bool)
    assert dataclasses.is_dataclass(cls.Settings) and cls.default_config == dataclasses.asdict(cls.Settings())
    assert "feather" in cls.default_config  # the runner composites with it


def _method(name, tiny_models):
    return METHODS.get(name)(CONFIGS[name](tiny_models) if name in CONFIGS else {})


@pytest.mark.parametrize("name", METHODS.names())
def test_method_batched_equals_one_by_one(name, tiny_models, sample_bench, tmp_path):
    method = _method(name, tiny_models)
    scene = sample_bench[SCENE]
    method.prepare(scene, tmp_path / "work")
    together = method.generate(scene, [3, 4, 5])
    alone = [method.generate(scene, [seed])[0] for seed in (3, 4, 5)]
    method.release()
    assert len(together) == 3
    for a, b in zip(together, alone):
        assert a.image.shape == scene.target.shape and a.image.dtype == np.uint8
        # equal up to float rounding: batched matrix products may round a few pixels the other way
        diff = np.abs(a.image.astype(int) - b.image.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())
        assert json.loads(json.dumps(a.info)) == a.info  # JSON-able, as records store it
        assert stable(a.info) == stable(b.info)  # the same but for measured times


def stable(info: dict) -> dict:
    """A sample's info without what is measured (seconds, memory), which differs between calls."""
    return {k: v for k, v in info.items() if k != "compute"}


@pytest.mark.parametrize("name", METHODS.names())
def test_method_run_records_its_identity(name, tiny_models, sample_bench, tmp_path):
    method = _method(name, tiny_models)
    run = evaluate(name, sample_bench, scenes=[SCENE], samples=2, metrics="psnr", select=False,
                   method_config=CONFIGS[name](tiny_models) if name in CONFIGS else None, out=tmp_path / "run",
                   progress=False)
    assert run.meta.method_info == method.info.as_dict() and run.meta.config == method.config
    assert len(run.records()) == 2 and run.records()["psnr"].notna().all()


@pytest.mark.parametrize("name", METHODS.names())
def test_method_bad_settings_are_one_error(name, tiny_models):
    cls = METHODS.get(name)
    config = CONFIGS[name](tiny_models) if name in CONFIGS else {}
    with pytest.raises(RealBenchError, match="has no setting"):
        cls({**config, "no_such_setting": 1})
    with pytest.raises(RealBenchError):
        cls({**config, "feather": "wide"})

