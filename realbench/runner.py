"""``evaluate``: generate samples with a method, score them, write records; resumable.

Stages per scene: ``method.prepare`` (fit once), ``method.generate`` in chunks of seeds,
composite over the target, write the PNG atomically, score with every metric (ground-truth
side prepared once per scene), append one record per sample. A rerun skips what is recorded,
scores recorded images for metrics they lack, and regenerates nothing it already has.
"""
from __future__ import annotations

import hashlib
import json
import os
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
    """A registered method, ``module:Class``, or ``folder:PATH`` for images made elsewhere."""
    from methods import METHODS

    if name.startswith("folder:"):
        from methods.folder import FolderMethod

        return FolderMethod({**(config or {}), "path": name[len("folder:"):]})
    return METHODS.get(name)(config or {})


_METRIC_INSTANCES: dict[tuple, Any] = {}


def expand_metric_names(names: Iterable[str]) -> list[str]:
    """Metric names with aliases (``table1``, ``default``) expanded, order kept, duplicates dropped."""
    from metrics import ALIASES

    out: list[str] = []
    for name in names:
        out += list(ALIASES.get(name, (name,)))
    return list(dict.fromkeys(out))


def resolve_metrics(names: Iterable[str], weights: dict[str, str] | None = None,
                    options: dict[str, dict[str, Any]] | None = None, skip_unavailable: bool = False,
                    device: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Instantiate metrics and check their weights *before* any work.

    Returns (usable metrics, unavailable metric -> reason). Missing weights are one error that
    lists everything missing, unless ``skip_unavailable`` records those metrics as unavailable.
    """
    from metrics import METRICS

    from .weights import WeightsMissing, resolve

    names = expand_metric_names(names)
    options = options or {}
    for name in options:
        if name not in names:
            raise RealBenchError(f"--metric-set given for '{name}', which is not among the metrics ({', '.join(names)})")
    classes = {name: METRICS.get(name) for name in names}  # unknown names fail here, with a hint
    scorers, missing = {}, {}
    for name, cls in classes.items():
        key = (name, canonical(options.get(name, {})), canonical(weights or {}), device,
               os.environ.get("REALBENCH_WEIGHTS_DIR"))
        scorer = _METRIC_INSTANCES.get(key) or cls(weights=weights, device=device, **options.get(name, {}))
        problems = []
        for weights_name in scorer.required_weights():
            try:
                resolve(weights_name, weights)
            except WeightsMissing as exc:
                problems.append(str(exc))
        if problems:
            missing[name] = " ".join(problems)
            continue
        _METRIC_INSTANCES[key] = scorer
        scorers[name] = scorer
    if missing and not skip_unavailable:
        details = " | ".join(f"metric '{n}': {reason}" for n, reason in missing.items())
        raise RealBenchError(f"missing weights for {len(missing)} metric(s), nothing was run. {details} "
                             "(or pass --skip-unavailable to record them as unavailable)")
    for name, scorer in scorers.items():
        try:
            scorer.load()
        except RealBenchError:
            raise
        except Exception as exc:
            first = (str(exc).splitlines() or [""])[0][:300]
            raise RealBenchError(f"metric '{name}' could not load its model ({type(exc).__name__}: {first})") from None
    return scorers, missing


def canonical(obj: Any) -> str:
    from .provenance import canonical_json

    return canonical_json(obj)


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
    weights: dict[str, str] | None = None,
    metric_options: dict[str, dict[str, Any]] | None = None,
    skip_unavailable: bool = False,
    device: str | None = None,
) -> RunResult:
    """Run ``method`` on a benchmark and score it. Everything is validated before anything is written."""
    from metrics import DEFAULT_METRICS

    bench = data if isinstance(data, Benchmark) else load_benchmark(data, scenes)
    if isinstance(data, Benchmark) and scenes is not None:
        bench = Benchmark(bench.name, bench.spec, bench.kind, [bench[s] for s in scenes])
    adapter = resolve_method(method, config)
    metric_names = expand_metric_names(metrics if metrics is not None else DEFAULT_METRICS)
    scorers, unavailable = resolve_metrics(metric_names, weights, metric_options, skip_unavailable, device)
    if samples is not None and samples < 1:
        raise RealBenchError("--samples must be at least 1")
    adapter.check_scenes(bench.ids)
    counts = {scene.id: adapter.sample_count(scene, samples) for scene in bench}
    for scene in bench:
        if scene.gt is None and scorers:
            raise RealBenchError("ground truth is needed to score", scene=scene.id)

    protocols = {n: s.protocol() for n, s in scorers.items()}
    run_config = {"method": method, "method_version": adapter.info.version, "config": adapter.config, "seed": seed}
    chash = config_hash(run_config)
    label = method if not method.startswith("folder:") else f"folder-{Path(method[7:]).name}"
    out = Path(out) if out is not None else Path("runs") / f"{label.replace(':', '-')}-{bench.name}"
    meta = {
        "method": method, "method_info": adapter.info.as_dict(), "config": adapter.config, "seed": seed,
        "config_hash": chash, "data": {"name": bench.name, "spec": bench.spec, "kind": bench.kind},
        "metrics": metric_names, "unavailable": unavailable,
        "metric_info": {n: s.info.as_dict() for n, s in scorers.items()},
        "metric_protocols": protocols,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "versions": versions(), "git": git_hash(),
    }
    meta = _open_run_dir(out, meta)
    store = RecordStore(out)
    done = store.load()
    provenance = {"versions": versions(), "git": git_hash()}

    from tqdm.auto import tqdm

    bar = tqdm(total=sum(counts.values()), desc=f"{method}", unit="sample", disable=not progress)
    for scene in bench:
        bar.set_postfix_str(scene.id)
        _run_scene(scene, adapter, scorers, unavailable, protocols, counts[scene.id], seed, chash, method, out,
                   store, done, provenance, bar)
    bar.close()
    result = RunResult(out, meta)
    from .tables import write_summary

    write_summary(out)
    return result


def _score(scorers, scene: Scene, images: list[np.ndarray], names: Iterable[str]) -> dict[str, list]:
    """Values per metric; the ground-truth side comes from each metric's per-scene cache."""
    return {name: scorers[name].score(scorers[name].reference(scene), scene, images) for name in names}


def _missing_metrics(record: dict[str, Any], scorers) -> list[str]:
    """Usable metrics a record has no value for (never scored, or recorded as unavailable)."""
    have = record.get("metrics", {})
    return [n for n in scorers if have.get(n) is None]


def _run_scene(scene, adapter, scorers, unavailable, protocols, samples, seed, chash, method, out, store, done,
               provenance, bar) -> None:
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
        if _missing_metrics(record, scorers):
            rescore.append(record)
        else:
            bar.update(1)

    for record in rescore:  # recorded images that lack a requested metric
        missing = _missing_metrics(record, scorers)
        image = read_rgb(out / record["image"], scene.id)
        values = _score(scorers, scene, [image], missing)
        record = dict(record)
        record["metrics"] = {**record["metrics"], **{n: v[0] for n, v in values.items()}}
        record["metric_protocols"] = {**record.get("metric_protocols", {}), **{n: protocols[n] for n in missing}}
        store.append([record])
        bar.update(1)

    if not todo:
        return
    started = time.perf_counter()
    adapter.prepare(scene, out / "work" / scene.id)
    prepare_seconds = time.perf_counter() - started
    batch = int(adapter.generation_batch)
    for chunk in _chunks(todo, batch):
        seeds = [adapter.seed_for(seed, index) for index in chunk]
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
            images.append(composite(output.image, scene.target, scene.mask, adapter.feather)
                          if adapter.composites else output.image)
        values = _score(scorers, scene, images, scorers)
        values.update({name: [None] * len(images) for name in unavailable})
        records = []
        for position, (index, image, output) in enumerate(zip(chunk, images, outputs)):
            rel = Path("images") / scene.id / f"{index:03d}.png"
            write_png(out / rel, image)
            records.append({
                "method": method, "scene": scene.id, "task": scene.task, "sample": index,
                "seed": seeds[position], "config_hash": chash, "scene_checksum": scene.checksum,
                "image": str(rel), "image_sha256": hashlib.sha256(image.tobytes()).hexdigest()[:16],
                "metrics": {n: v[position] for n, v in values.items()},
                "metric_protocols": dict(protocols),
                "info": output.info, "seconds": {"prepare": prepare_seconds, "generate": seconds},
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **provenance,
            })
        store.append(records)
        bar.update(len(chunk))
    adapter.release()
