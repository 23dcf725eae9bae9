"""The worker of a run: per scene, fit the method once, generate in chunks of seeds, composite
over the target, score every metric (ground-truth side once per scene) and count reference
correspondences for seed selection. It writes no record and no image (only a method's own fitted
state, under the run's work/), so the same worker runs in-process, in a shard of a Slurm array,
or as a Ray task, and every executor gives the same records.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realbench.core.compositing import composite
from realbench.core.errors import RealBenchError
from realbench.core.provenance import canonical_json, config_hash
from realbench.core.scene import Scene
from realbench.selection.correspondences import CorrespondenceScorer

from .components import resolve_method, resolve_metrics
from .records import Record


@dataclass
class SceneWork:
    """What one scene still needs: samples to generate, recorded samples to (re)score."""

    scene: Scene
    todo: list[int]
    rescore: list[Record]
    images: list[np.ndarray]  # the recorded images of ``rescore``, same order (read when the scene comes)
    reselect: bool = False  # the selection settings changed: rank every recorded sample again


@dataclass
class RunSpec:
    """Everything a worker needs to rebuild the method, metrics and selector (picklable)."""

    method: str
    config: dict[str, Any]
    metrics: list[str]
    weights: dict[str, str]
    metric_options: dict[str, dict[str, Any]]
    skip_unavailable: bool
    device: str | None
    selection: dict[str, Any] | None
    seed: int
    work_dir: str  # the run folder's work/ (per-scene fitted state)
    max_pixels: int | None = None  # the run's pixel limit, for workers in other processes (Ray)
    protocols: dict[str, dict] | None = None  # each metric's full protocol, worked out once per run


_COMPONENTS: dict[str, tuple] = {}
CHUNK_BYTES = 512 * 2 ** 20  # decoded images held at once per chunk (64 at 1024 px, fewer when huge)


def build_components(spec: RunSpec) -> tuple:
    """Method, metrics and selector rebuilt from a spec, once per process (Ray workers)."""
    key = config_hash({k: v for k, v in vars(spec).items()})
    if key not in _COMPONENTS:
        adapter = resolve_method(spec.method, spec.config)
        adapter.device = spec.device
        scorers, _ = resolve_metrics(spec.metrics, spec.weights, spec.metric_options, spec.skip_unavailable,
                                     spec.device)
        selector = (CorrespondenceScorer(spec.selection, weights=spec.weights, device=spec.device)
                    if spec.selection is not None else None)
        _COMPONENTS[key] = (adapter, scorers, selector)
    return _COMPONENTS[key]


def chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    """Sample indices in blocks of ``size`` aligned to the index (0-3, 4-7, ...), not to where the
    work starts: batched generation equals one-by-one only up to float rounding (a level in a few
    pixels), so a run resumed or extended (``--samples 16`` after 8) generates the very batches,
    and images, of a run made in one go (a block's records are appended together)."""
    blocks: dict[int, list[int]] = {}
    for index in items:
        blocks.setdefault(index // size, []).append(index)
    yield from blocks.values()


def score(scorers, scene: Scene, images: list[np.ndarray], names: Iterable[str]) -> dict[str, list]:
    """Values per metric; the ground-truth side comes from each metric's per-scene cache."""
    return {name: scorers[name].score(scorers[name].ground_truth_state(scene), scene, images) for name in names}


def missing_metrics(record: Record, protocols: dict[str, dict]) -> list[str]:
    """Usable metrics a record has no value for (never scored, recorded as unavailable) or has
    under another protocol than the current one (version, options or weights)."""
    return [n for n, protocol in protocols.items() if record.metrics.get(n) is None
            or canonical_json(record.metric_protocols.get(n)) != canonical_json(protocol)]


def chunk_size(adapter, scene: Scene) -> int:
    return max(1, min(int(adapter.generation_batch), CHUNK_BYTES // max(scene.target.nbytes, 1)))


def process_scene(work: SceneWork, adapter, scorers, selector, spec: RunSpec,
                  upcoming: SceneWork | None = None) -> Iterator[list[dict[str, Any]]]:
    """Yields, per chunk, one result dict per sample (no record or image is written here: a
    method may keep its fitted state under the run's work/). While a chunk is scored the method is
    told which one comes next (this scene's, else ``upcoming``'s first), so a method that reads
    files overlaps reading with scoring."""
    if work.rescore:
        yield _rescored(work, scorers, selector, spec)
    if not work.todo:
        return
    scene = work.scene
    started = time.perf_counter()
    adapter.prepare(scene, Path(spec.work_dir) / scene.id)
    prepare_seconds = time.perf_counter() - started
    blocks = list(chunks(work.todo, chunk_size(adapter, scene)))
    for position, chunk in enumerate(blocks):
        seeds = [adapter.seed_for(spec.seed, index) for index in chunk]
        started = time.perf_counter()
        outputs = adapter.generate(scene, seeds)
        seconds = (time.perf_counter() - started) / max(len(chunk), 1)
        _prefetch_next(adapter, spec, blocks[position + 1] if position + 1 < len(blocks) else None, scene, upcoming)
        images, encoded = _composited(outputs, scene, adapter, spec.method)
        values = score(scorers, scene, images, scorers)
        results = []
        for k, (index, image, output) in enumerate(zip(chunk, images, outputs)):
            result = {"sample": index, "seed": seeds[k], "image": image, "info": output.info,
                      "metrics": {n: v[k] for n, v in values.items()},
                      "seconds": {"prepare": prepare_seconds, "generate": seconds}}
            if encoded[k] is not None:
                result["encoded"] = encoded[k]
            if selector is not None:
                result["correspondences"] = selector.score(scene, image)
            results.append(result)
        yield results
    adapter.release()


def _rescored(work: SceneWork, scorers, selector, spec: RunSpec) -> list[dict[str, Any]]:
    """Recorded samples scored again from their stored images; records missing the same metrics
    are scored in one batch."""
    protocols = spec.protocols if spec.protocols is not None else {n: s.full_protocol() for n, s in scorers.items()}
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, record in enumerate(work.rescore):
        groups.setdefault(tuple(missing_metrics(record, protocols)), []).append(i)
    rescored: dict[int, dict[str, float]] = {}
    for names, members in groups.items():
        values = score(scorers, work.scene, [work.images[i] for i in members], names)
        rescored.update({i: {n: v[k] for n, v in values.items()} for k, i in enumerate(members)})
    results = []
    for i, (record, image) in enumerate(zip(work.rescore, work.images)):
        result: dict[str, Any] = {"rescore": record, "metrics": rescored[i]}
        if selector is not None and (work.reselect or record.correspondences is None):
            result["correspondences"] = selector.score(work.scene, image)
        results.append(result)
    return results


def _prefetch_next(adapter, spec: RunSpec, block: list[int] | None, scene: Scene, upcoming: SceneWork | None) -> None:
    if block is not None:
        adapter.prefetch(scene, [adapter.seed_for(spec.seed, i) for i in block])
    elif upcoming is not None and upcoming.todo:
        first = next(iter(chunks(upcoming.todo, chunk_size(adapter, upcoming.scene))))
        adapter.prefetch(upcoming.scene, [adapter.seed_for(spec.seed, i) for i in first])


def _composited(outputs, scene: Scene, adapter, method: str) -> tuple[list[np.ndarray], list[bytes | None]]:
    """Each output checked and pasted over the target (unless the method composites nothing), and
    the file bytes that still hold exactly the scored pixels (stored as they are)."""
    images, encoded = [], []
    for output in outputs:
        if output.image.shape != scene.target.shape or output.image.dtype != np.uint8:
            raise RealBenchError(f"method '{method}' returned an image of shape {output.image.shape} "
                                 f"{output.image.dtype}, expected {scene.target.shape} uint8", scene=scene.id)
        image = composite(output.image, scene.target, scene.mask, adapter.feather) if adapter.composites \
            else output.image
        images.append(image)
        same = output.encoded is not None and (image is output.image or np.array_equal(image, output.image))
        encoded.append(output.encoded if same else None)
    return images, encoded
