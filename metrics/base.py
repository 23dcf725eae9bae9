"""What every metric declares (pyiqa-style metadata) and the small interface the runner calls.

Metadata drives tables: ``higher_is_better`` gives the arrow and the sort order, ``region`` says
whether the metric looks only at the filled pixels, ``default_atol`` and ``gpu_atol`` are the
tolerances ``realbench check`` uses when the user gives none (CPU runs are bit-reproducible; GPU
runs are not, so their tolerance is looser).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal, cast

import numpy as np

from realbench.core.errors import RealBenchError
from realbench.core.registry import Registry
from realbench.core.scene import Scene
from realbench.core.settings import as_dict, parse_settings, setting, settings_from_defaults

from ._state import feature_cache_enabled, feature_cache_path, load_state, save_state

METRICS = Registry("metric", package="realbench.metrics")


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    range: tuple[float, float]
    level: Literal["low", "mid", "high"]  # pixel fidelity, perceptual, semantic
    region: Literal["mask", "full"]
    needs_weights: bool = False
    description: str = ""
    default_atol: float = 1e-4  # `realbench check` tolerance for runs computed on the CPU (deterministic)
    gpu_atol: float = 5e-3  # ... and for runs on a GPU (non-deterministic kernels, half precision)
    version: int = 1  # bump whenever the computation changes: records and baselines say which one they hold

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Metric:
    """A metric scores many samples of one scene against that scene's ground truth.

    ``prepare(scene)`` computes whatever depends only on the ground truth (features, embeddings);
    ``ground_truth_state(scene)`` caches it per scene content, so it is computed once per scene for every
    sample of every method scored by this instance. ``score`` scores a batch of samples.
    """

    info: ClassVar[MetricInfo]
    Options: ClassVar[type | None] = None  # a settings dataclass; else inferred from default_options
    default_options: ClassVar[dict[str, Any]] = {}
    cache_size: ClassVar[int] = 64
    # keep the ground-truth side on disk too (learned metrics: a forward pass per scene), keyed by
    # the scene's content and the full protocol, so another run on the same data reuses it
    persist_ground_truth: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("Options") is not None:
            cls.default_options = as_dict(cls.Options())
        elif "default_options" in cls.__dict__ or cls.Options is None:
            cls.Options = settings_from_defaults(cls.default_options, f"{cls.__name__}Options")

    def __init__(self, weights: Mapping[str, str] | None = None, device: str | None = None, **options: Any):
        self.weights = dict(weights or {})
        self.device = device
        self.options = as_dict(parse_settings(cast(type, type(self).Options), options, f"metric '{self.info.name}'"))
        self._gt_states: OrderedDict[str, Any] = OrderedDict()

    def required_weights(self) -> list[str]:
        """Names of the weights (``realbench.weights.SPECS``) this metric needs with its options."""
        return []

    def load(self) -> None:
        """Load models (once); called before any scoring so a broken file fails early."""

    def protocol(self) -> dict[str, Any]:
        """Exactly what is measured: preprocessing, data range, mask rule, model and weights."""
        return {}

    def full_protocol(self) -> dict[str, Any]:
        """What records store: the protocol plus the metric's name and protocol version (and a
        reduced precision, when one was asked for)."""
        precision = self.options.get("precision", "fp32")
        return {"metric": self.info.name, "version": self.info.version, **self.protocol(),
                **({"precision": precision} if precision != "fp32" else {})}

    def prepare(self, scene: Scene) -> Any:
        return None

    def ground_truth_state(self, scene: Scene) -> Any:
        """What ``prepare`` computed from the scene's ground truth, cached per scene content."""
        key = scene.checksum
        if key not in self._gt_states:
            self._gt_states[key] = self._stored_ground_truth_state(scene)
            while len(self._gt_states) > self.cache_size:
                self._gt_states.popitem(last=False)
        self._gt_states.move_to_end(key)
        return self._gt_states[key]

    def reference(self, scene: Scene) -> Any:
        """Deprecated name of ``ground_truth_state`` (it never concerned the reference photos)."""
        import warnings

        warnings.warn("Metric.reference is now Metric.ground_truth_state", DeprecationWarning, stacklevel=2)
        return self.ground_truth_state(scene)

    def _stored_ground_truth_state(self, scene: Scene) -> Any:
        if not self.persist_ground_truth or not feature_cache_enabled():
            return self.prepare(scene)
        self.load()
        device = getattr(self, "_device", None)
        path = feature_cache_path(self.full_protocol(), str(getattr(device, "type", device) or "cpu"), scene.checksum)
        state = load_state(path, device)
        if state is None:
            state = self.prepare(scene)
            save_state(path, state)
        return state

    def score(self, state: Any, scene: Scene, images: Sequence[np.ndarray]) -> list[float]:
        raise NotImplementedError

    def __call__(self, scene: Scene, images: Sequence[np.ndarray]) -> list[float]:
        """Score ``images`` of ``scene`` (notebook convenience); the inputs are checked first."""
        check_images(scene, images, self.info.name)
        self.load()
        return self.score(self.ground_truth_state(scene), scene, images)


@dataclass
class BatchOptions:
    batch_size: int | None = setting(None, min=1, help="samples per forward pass (default: every sample a "
                                     "run holds for a scene, within a memory budget; on the CPU a few)")
    precision: str = setting("fp32", choices=("fp32", "bf16", "fp16"),
                             help="fp32 (default: the reference numbers), or autocast to bf16 / fp16 (fp16 on "
                                  "CUDA only); recorded in the protocol")


def check_images(scene: Scene, images: Sequence[np.ndarray], metric: str) -> None:
    """One clear error for what a metric cannot score: no ground truth, or an image that is not
    an HxWx3 uint8 array of the scene's size."""
    if scene.gt is None:
        raise RealBenchError(f"metric '{metric}' needs the ground truth, which this scene has none of", scene=scene.id)
    for index, image in enumerate(images):
        shape, dtype = getattr(image, "shape", None), getattr(image, "dtype", None)
        if shape != scene.gt.shape or dtype != np.uint8:
            raise RealBenchError(f"metric '{metric}': image {index} is {type(image).__name__} {shape} {dtype}, "
                                 f"expected a {scene.gt.shape} uint8 array (the scene's size)", scene=scene.id)


def check_pair(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> None:
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected two HxWx3 images of equal size, got {pred.shape} and {gt.shape}")
    if mask is not None and mask.shape != pred.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match image {pred.shape[:2]}")
    if mask is not None and not mask.any():
        raise ValueError("mask selects no pixels")
