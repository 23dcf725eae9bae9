"""``evaluate``: generate samples with a method, score them, write records; resumable.

Stages per scene: ``method.prepare`` (fit once), ``method.generate`` in chunks of seeds,
composite over the target, write the PNG atomically, score with every metric (ground-truth
side prepared once per scene), append one record per sample. A rerun skips what is recorded,
scores recorded images for metrics they lack, and regenerates nothing it already has.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .compositing import composite
from .errors import RealBenchError
from .imageio import atomic_write_bytes, read_rgb, write_png
from .loading import Benchmark, load_benchmark
from .provenance import config_hash, git_hash, versions
from .records import RecordStore
from .scene import Scene

RUN_META = "run.json"
SUMMARY = "summary.csv"


@dataclass
class RunResult:
    run_dir: Path
    meta: dict[str, Any]

    def records(self):
        from .tables import load_records

        return load_records(self.run_dir)

    def summary(self):
        from .tables import scene_summary

        return scene_summary(self.records(), self.meta["metrics"])


def resolve_method(name: str, config: dict[str, Any] | None = None):
    from methods import METHODS

    return METHODS.get(name)(config or {})


def resolve_metrics(names: Iterable[str]):
    from metrics import METRICS

    return {name: METRICS.get(name)() for name in names}


def _open_run_dir(out: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Create ``out`` or check that it belongs to the same run configuration."""
    meta_path = out / RUN_META
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text())
        except ValueError:
            raise RealBenchError("run.json is corrupt; use another --out", path=str(meta_path)) from None
        if old.get("config_hash") != meta["config_hash"]:
            raise RealBenchError(
                f"output folder holds a run with another configuration (config hash {old.get('config_hash')} != "
                f"{meta['config_hash']}); use another --out",
                path=str(out),
            )
        meta["metrics"] = list(dict.fromkeys([*old.get("metrics", []), *meta["metrics"]]))
        meta["created"] = old.get("created", meta["created"])
    elif out.exists() and any(out.iterdir()):
        raise RealBenchError("output folder exists, is not empty and is not a realbench run", path=str(out))
    atomic_write_bytes(meta_path, (json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n").encode())
    for stale in out.rglob(".*.tmp"):  # temp files of a killed run's atomic writes
        stale.unlink(missing_ok=True)
    return meta


def _chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def evaluate(
    method: str,
    data: str | Benchmark = "sample",
    scenes: Sequence[str] | None = None,
    samples: int | None = None,
    seed: int = 0,
    metrics: Sequence[str] | None = None,
    out: str | Path | None = None,
    config: dict[str, Any] | None = None,
    progress: bool = True,
) -> RunResult:
    """Run ``method`` on a benchmark and score it. Everything is validated before anything is written."""
    from metrics import DEFAULT_METRICS

    bench = data if isinstance(data, Benchmark) else load_benchmark(data, scenes)
    if isinstance(data, Benchmark) and scenes is not None:
        bench = Benchmark(bench.name, bench.spec, bench.kind, [bench[s] for s in scenes])
    adapter = resolve_method(method, config)
    metric_names = list(dict.fromkeys(metrics if metrics is not None else DEFAULT_METRICS))
    scorers = resolve_metrics(metric_names)
    if samples is None:
        samples = 64 if adapter.info.stochastic else 1
    if samples < 1:
        raise RealBenchError("--samples must be at least 1")
    for scene in bench:
        if scene.gt is None and scorers:
            raise RealBenchError("ground truth is needed to score", scene=scene.id)

    run_config = {"method": method, "method_version": adapter.info.version, "config": adapter.config, "seed": seed}
    chash = config_hash(run_config)
    out = Path(out) if out is not None else Path("runs") / f"{method}-{bench.name}"
    meta = {
        "method": method, "method_info": adapter.info.as_dict(), "config": adapter.config, "seed": seed,
        "config_hash": chash, "data": {"name": bench.name, "spec": bench.spec, "kind": bench.kind},
        "metrics": metric_names,
        "metric_info": {n: s.info.as_dict() for n, s in scorers.items()},
        "metric_protocols": {n: s.protocol() for n, s in scorers.items()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "versions": versions(), "git": git_hash(),
    }
    meta = _open_run_dir(out, meta)
    store = RecordStore(out)
    done = store.load()
    protocol_ids = {n: config_hash(s.protocol()) for n, s in scorers.items()}
    provenance = {"versions": versions(), "git": git_hash()}

    from tqdm.auto import tqdm

    bar = tqdm(total=len(bench) * samples, desc=f"{method}", unit="sample", disable=not progress)
    for scene in bench:
        bar.set_postfix_str(scene.id)
        _run_scene(scene, adapter, scorers, protocol_ids, samples, seed, chash, method, out, store, done,
                   provenance, bar)
    bar.close()
    result = RunResult(out, meta)
    from .tables import write_summary

    write_summary(out)
    return result


def _score(scorers, states, scene: Scene, images: list[np.ndarray], names: Iterable[str]) -> dict[str, dict]:
    values: dict[str, list[float]] = {}
    for name in names:
        if name not in states:
            states[name] = scorers[name].prepare(scene)
        values[name] = scorers[name].score(states[name], scene, images)
    return values


def _run_scene(scene, adapter, scorers, protocol_ids, samples, seed, chash, method, out, store, done,
               provenance, bar) -> None:
    states: dict[str, Any] = {}
    todo, rescore = [], []
    for index in range(samples):
        record = done.get((method, scene.id, index))
        if record is None or not (out / record["image"]).exists():
            todo.append(index)
            continue
        if record.get("scene_checksum") != scene.checksum:
            raise RealBenchError(
                "scene content changed since this run recorded it; use another --out", scene=scene.id, path=str(out)
            )
        if set(scorers) - set(record.get("metrics", {})):
            rescore.append(record)
        else:
            bar.update(1)

    for record in rescore:  # recorded images that lack a requested metric
        missing = [n for n in scorers if n not in record["metrics"]]
        image = read_rgb(out / record["image"], scene.id)
        values = _score(scorers, states, scene, [image], missing)
        record = dict(record)
        record["metrics"] = {**record["metrics"], **{n: v[0] for n, v in values.items()}}
        record["metric_protocols"] = {**record.get("metric_protocols", {}), **{n: protocol_ids[n] for n in missing}}
        store.append([record])
        bar.update(1)

    if not todo:
        return
    started = time.perf_counter()
    adapter.prepare(scene, out / "work" / scene.id)
    prepare_seconds = time.perf_counter() - started
    batch = int(getattr(adapter, "generation_batch", 8))
    for chunk in _chunks(todo, batch):
        seeds = [seed + index for index in chunk]
        started = time.perf_counter()
        outputs = adapter.generate(scene, seeds)
        seconds = (time.perf_counter() - started) / max(len(chunk), 1)
        images = []
        for output in outputs:
            if output.image.shape != scene.target.shape or output.image.dtype != np.uint8:
                raise RealBenchError(
                    f"method '{method}' returned an image of shape {output.image.shape} {output.image.dtype}, "
                    f"expected {scene.target.shape} uint8", scene=scene.id,
                )
            images.append(composite(output.image, scene.target, scene.mask, adapter.feather))
        values = _score(scorers, states, scene, images, scorers)
        records = []
        for position, (index, image, output) in enumerate(zip(chunk, images, outputs)):
            rel = Path("images") / scene.id / f"{index:03d}.png"
            write_png(out / rel, image)
            records.append({
                "method": method, "scene": scene.id, "task": scene.task, "sample": index,
                "seed": seed + index, "config_hash": chash, "scene_checksum": scene.checksum,
                "image": str(rel), "image_sha256": hashlib.sha256(image.tobytes()).hexdigest()[:16],
                "metrics": {n: v[position] for n, v in values.items()},
                "metric_protocols": dict(protocol_ids),
                "info": output.info, "seconds": {"prepare": prepare_seconds, "generate": seconds},
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **provenance,
            })
        store.append(records)
        bar.update(len(chunk))
    adapter.release()
