"""``evaluate``: generate samples with a method, score them, write records; resumable.

The driver (``evaluate``) validates everything, plans the missing work from the records and
writes images and records as results arrive. The worker (``process_scene``) is pure: per scene
it runs ``method.prepare`` (fit once) and ``method.generate`` in chunks of seeds, composites
over the target, scores every metric (ground-truth side once per scene) and counts reference
correspondences for seed selection. The same worker runs in-process, in a shard of a Slurm
array, or as a Ray task (``realbench.executors``), so every executor gives the same records.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .compositing import composite
from .errors import RealBenchError
from .imageio import atomic_write_bytes, read_rgb, write_png
from .loading import Benchmark, load_benchmark
from .paths import check_out, inside
from .provenance import canonical_json, config_hash, git_hash, versions
from .records import RecordStore
from .scene import Scene, natural_key

RUN_META = "run.json"
SUMMARY = "summary.csv"


@dataclass
class RunResult:
    """A run folder and its ``run.json``; accepted wherever a run folder is (tables, report)."""

    run_dir: Path
    meta: dict[str, Any]

    def __repr__(self) -> str:
        data = (self.meta.get("data") or {}).get("name", "?")
        return f"RunResult({self.meta.get('label') or self.meta['method']!r}, data={data!r}, {str(self.run_dir)!r})"

    def records(self):
        from .tables import load_records

        return load_records(self.run_dir)

    def summary(self, keep: int | None = None):
        """Per-scene means and the mean over scenes; with ``keep``, over the K best-ranked samples."""
        from .runview import read_run
        from .tables import scene_summary, select_top

        view = read_run(self.run_dir)
        records = select_top(view.records, keep=keep) if keep else view.records
        return scene_summary(records, view.metrics, list(view.unavailable))

    def results(self) -> dict[str, Any]:
        """The run's ``results.json``: means, standard errors, splits, identity and protocols."""
        return json.loads((self.run_dir / "results.json").read_text())


def resolve_method(name: str, config: dict[str, Any] | None = None):
    """A registered method, ``module:Class``, or ``folder:PATH`` for images made elsewhere."""
    from methods import METHODS

    from methods.base import Method

    if name.startswith("folder:"):
        from methods.folder import FolderMethod

        return FolderMethod({**(config or {}), "path": name[len("folder:"):]})
    cls = METHODS.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise RealBenchError(f"'{name}' is not a realbench method (a subclass of methods.base.Method)")
    return cls(config or {})


_METRIC_INSTANCES: dict[tuple, Any] = {}


def expand_metric_names(names: Iterable[str]) -> list[str]:
    """Metric names with aliases (``table1``, ``default``) expanded, order kept, duplicates dropped."""
    from metrics import ALIASES

    out: list[str] = []
    for name in names:
        out += list(ALIASES.get(name, (name,)))
    return [n for n in dict.fromkeys(out) if n != "none"]


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
        key = (name, canonical_json(options.get(name, {})), canonical_json(weights or {}), device,
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


def _leftovers(name: str) -> bool:
    """What a killed run may leave in a fresh folder: its lock and temp files of atomic writes."""
    from .runlock import LOCK

    return name == LOCK or (name.startswith(".") and name.endswith(".tmp"))


def _open_run_dir(out: Path, meta: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Check that ``out`` (locked by this process) is new or belongs to the same run configuration
    on the same data; record ``run.json``; returns the meta recorded and the previous one."""
    meta_path = out / RUN_META
    old = None
    if meta_path.exists():
        from .runview import load_meta

        old = load_meta(out)
        if old.get("config_hash") != meta["config_hash"]:
            raise RealBenchError(
                f"output folder holds a run with another configuration (config hash {old.get('config_hash')} != "
                f"{meta['config_hash']}); use another --out",
                path=str(out),
            )
        old_data = (old.get("data") or {}).get("name")
        if old_data != meta["data"]["name"]:
            raise RealBenchError(f"output folder holds a run on other data ('{old_data}', this run: "
                                 f"'{meta['data']['name']}'); use another --out", path=str(out))
        meta["metrics"] = list(dict.fromkeys([*old.get("metrics", []), *meta["metrics"]]))
        meta["metric_info"] = {**(old.get("metric_info") or {}), **meta["metric_info"]}
        meta["metric_protocols"] = {**(old.get("metric_protocols") or {}), **meta["metric_protocols"]}
        meta["unavailable"] = {k: v for k, v in {**(old.get("unavailable") or {}), **meta["unavailable"]}.items()
                               if k not in meta["metric_protocols"] or k in meta["unavailable"]}
        if meta["selection"] is None:
            meta["selection"] = old.get("selection")
        meta["created"] = old.get("created", meta["created"])
        meta["data"]["all_scenes"] = sorted({*old["data"].get("all_scenes", []), *meta["data"]["all_scenes"]},
                                            key=natural_key)
    elif any(not _leftovers(p.name) for p in out.iterdir()):
        raise RealBenchError("output folder exists, is not empty and is not a realbench run", path=str(out))
    for stale in out.rglob(".*.tmp"):  # temp files of a killed run's atomic writes (the lock says none is live)
        stale.unlink(missing_ok=True)
    atomic_write_bytes(meta_path, (json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n").encode())
    return meta, old


def _chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


@dataclass
class SceneWork:
    """What one scene still needs: samples to generate, recorded samples to (re)score."""

    scene: Scene
    todo: list[int]
    rescore: list[dict[str, Any]]
    images: list[np.ndarray]  # the recorded images of ``rescore``, same order
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
    out: str


def default_label(method: str, adapter, seed: int, max_refs: int | None, chash: str) -> str:
    """The method name plus the settings in which the run differs from the method's defaults
    (``telea(radius=3)``); when that gets long, the method name and the config hash."""
    from .settings import flatten

    base = f"folder:{Path(method[7:]).name}" if method.startswith("folder:") else method
    defaults = flatten(type(adapter).default_config)
    diffs = [f"{k}={v}" for k, v in flatten(adapter.config).items() if k != "path" and defaults.get(k) != v]
    diffs += [f"seed={seed}"] if seed else []
    diffs += [f"max_refs={max_refs}"] if max_refs else []
    text = f"{base}({', '.join(diffs)})" if diffs else base
    return text if len(text) <= 48 else f"{base}@{chash[:6]}"


def evaluate(
    method: str,
    data: str | Benchmark = "sample",
    scenes: Sequence[str] | None = None,
    samples: int | None = None,
    seed: int = 0,
    metrics: Sequence[str] | str | None = None,
    out: str | Path | None = None,
    config: dict[str, Any] | None = None,
    progress: bool = True,
    weights: dict[str, str] | None = None,
    metric_options: dict[str, dict[str, Any]] | None = None,
    skip_unavailable: bool = False,
    device: str | None = None,
    select: bool = True,
    selection_options: dict[str, Any] | None = None,
    keep: int | None = None,
    max_refs: int | None = None,
    shard: tuple[int, int] | str | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    ray_gpus_per_task: float | None = None,
    label: str | None = None,
    shard_base: int = 1,
) -> RunResult:
    """Run ``method`` on a benchmark, score every sample and record it all in ``out``; rerun to resume.

    ``method``: a registered name (``realbench methods``), ``folder:PATH`` (images made elsewhere)
    or ``module:Class``. ``data``: ``"sample"``, a RealBench folder or zip, a saved dataset, a hub
    id, or a ``Benchmark``. ``metrics``: names or aliases (``"table1"``, ``"none"``), one name as a
    string works too. ``config``: method settings (``{"train": {"steps": 2}}``), checked against the
    method's typed settings. ``label`` names the run in every table (default: the method plus the
    settings that differ from its defaults). ``shard``: ``"I/N"`` (1-based; ``shard_base=0`` for
    0-based indices) or ``"slurm"`` (from ``SLURM_ARRAY_TASK_*``). Everything is validated, the
    weights found and (for Ray) the cluster reached before anything is written.
    """
    from metrics import DEFAULT_METRICS

    from .devices import check_device
    from .runview import data_checksum
    from .selection import CorrespondenceScorer

    device = check_device(device)
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(scenes, str):
        scenes = [scenes]
    if executor not in ("local", "ray"):
        raise RealBenchError(f"unknown executor '{executor}' (local or ray)")
    if samples is not None and samples < 1:
        raise RealBenchError("--samples must be at least 1")
    if keep is not None and keep < 1:
        raise RealBenchError("--keep must be at least 1")
    if max_refs is not None and max_refs < 1:
        raise RealBenchError("--max-refs must be at least 1")
    bench = data if isinstance(data, Benchmark) else load_benchmark(data, scenes)
    if isinstance(data, Benchmark) and scenes is not None:
        bench = Benchmark(bench.name, bench.spec, bench.kind, [bench[s] for s in scenes], bench.note)
    if max_refs is not None:
        bench = Benchmark(bench.name, bench.spec, bench.kind, [s.with_refs(list(s.refs[:max_refs])) for s in bench],
                          bench.note)
    all_scenes = bench.ids
    shard = parse_shard(shard, shard_base)
    if shard is not None:
        bench = Benchmark(bench.name, bench.spec, bench.kind, shard_scenes(bench.scenes, *shard), bench.note)
    adapter = resolve_method(method, config)
    adapter.device = device
    if metrics is None and not bench.has_ground_truth:
        metrics = []  # a generation-only benchmark (no ground truth): nothing to score by default
    metric_names = expand_metric_names(metrics if metrics is not None else DEFAULT_METRICS)
    # with Ray the driver only validates and records protocols: its models stay on the CPU, GPUs are the workers'
    driver_device = "cpu" if executor == "ray" else device
    scorers, unavailable = resolve_metrics(metric_names, weights, metric_options, skip_unavailable, driver_device)
    selector = (CorrespondenceScorer(selection_options or {}, weights=dict(weights or {}), device=device)
                if select else None)
    adapter.check_scenes(bench.ids)
    counts = {scene.id: adapter.sample_count(scene, samples) for scene in bench}
    for scene in bench:
        if scene.gt is None and (scorers or unavailable):
            raise RealBenchError(
                f"no ground truth (target/gt.png) in data '{bench.name}', so it can be generated but not scored; "
                "pass --metrics none to generate only", scene=scene.id)

    from metrics import METRICS

    protocols = {n: s.full_protocol() for n, s in scorers.items()}
    run_config = {"method": method, "method_version": adapter.info.version, "config": adapter.config, "seed": seed,
                  "max_refs": max_refs}
    chash = config_hash(run_config)
    label = label or default_label(method, adapter, seed, max_refs, chash)
    folder_name = method if not method.startswith("folder:") else f"folder-{Path(method[7:]).name}"
    out = Path(out) if out is not None else Path("runs") / f"{folder_name.replace(':', '-')}-{bench.name}"
    meta = {
        "label": label, "method": method, "method_info": adapter.info.as_dict(), "config": adapter.config,
        "seed": seed, "max_refs": max_refs, "config_hash": chash,
        "data": {"name": bench.name, "spec": bench.spec, "kind": bench.kind, "ground_truth": bench.has_ground_truth,
                 "checksum": data_checksum({"scene": s.id, "scene_checksum": s.checksum} for s in bench),
                 "all_scenes": all_scenes, **({"note": bench.note} if bench.note else {})},
        "metrics": metric_names, "unavailable": unavailable,
        "metric_info": {n: METRICS.get(n).info.as_dict() for n in metric_names},
        "metric_protocols": protocols,
        "selection": selector.protocol() if selector else None,
        "shard": f"{shard[0]}/{shard[1]}" if shard else None, "scenes": bench.ids, "executor": executor,
        "device": device, "device_class": _device_class(device), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "versions": versions(), "git": git_hash(),
    }
    check_out(out)
    adapter.check_inputs(bench.scenes, counts)  # e.g. every image of folder:PATH, before any write
    session = None
    if executor == "ray":  # reach the cluster before anything is written
        from .executors import connect_ray

        session = connect_ray(ray_address)
    from .runlock import RunLock

    lock = None
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RealBenchError(f"cannot create the output folder ({exc.strerror or exc})", path=str(out)) from None
        lock = RunLock(out).acquire()
        meta, old = _open_run_dir(out, meta)
        reselect = bool(selector and old and old.get("selection") and old["selection"] != selector.protocol())
        store = RecordStore(out)
        plan = plan_work(bench, counts, method, out, store.load(), protocols, selector, reselect, adapter)
        _warn_rescoring(plan, protocols, reselect)
        spec = RunSpec(method, dict(config or {}), list(scorers), dict(weights or {}), dict(metric_options or {}),
                       skip_unavailable, device, selector.options if selector else None, seed, str(out))
        context = {"method": method, "chash": chash, "protocols": protocols, "unavailable": list(unavailable),
                   "provenance": {"versions": versions(), "git": git_hash()}}

        from tqdm.auto import tqdm

        bar = tqdm(total=sum(counts.values()), desc=f"{method}", unit="sample", disable=not progress)
        bar.update(sum(counts.values()) - sum(len(w.todo) + len(w.rescore) for w in plan))
        writer = RecordWriter(out, store, context, bar)
        if session is not None:
            from .executors import run_with_ray

            run_with_ray(plan, spec, writer, session, ray_gpus_per_task)
        else:
            for work in plan:
                bar.set_postfix_str(work.scene.id)
                for results in process_scene(work, adapter, scorers, selector, spec):
                    writer.write(work.scene, results)
        bar.close()
        from .tables import write_summary

        write_summary(out, keep=keep)
    finally:
        if session is not None:
            session.close()
        if lock is not None:
            lock.release()
    return RunResult(out, meta)


def _device_class(device: str | None) -> str:
    """Where methods and metrics compute: an explicit --device, else CUDA when present."""
    if device is None:
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "gpu" if device.startswith(("cuda", "mps")) else "cpu"


def _warn_rescoring(plan: list[SceneWork], protocols: dict[str, dict], reselect: bool) -> None:
    import warnings

    from .errors import RealBenchWarning

    changed: dict[str, int] = {}
    for work in plan:
        for record in work.rescore:
            recorded = record.get("metric_protocols") or {}
            for name in _missing_metrics(record, protocols):
                if (record.get("metrics") or {}).get(name) is not None and name in recorded:
                    changed[name] = changed.get(name, 0) + 1
    for name, count in changed.items():
        warnings.warn(f"metric '{name}': the recorded values of {count} sample(s) were computed under another "
                      "protocol (version, options or weights); rescoring them from their stored images",
                      RealBenchWarning, stacklevel=3)
    if reselect:
        warnings.warn("the seed-selection settings changed since this run was ranked; ranking every recorded "
                      "sample again", RealBenchWarning, stacklevel=3)


def parse_shard(shard: tuple[int, int] | str | None, base: int = 1) -> tuple[int, int] | None:
    """``"I/N"`` with I counted from ``base`` (1, as Slurm array indices usually are, or 0),
    ``(I, N)``, or ``"slurm"``: this task of the Slurm array (``SLURM_ARRAY_TASK_ID`` counted from
    ``SLURM_ARRAY_TASK_MIN``, ``SLURM_ARRAY_TASK_COUNT`` tasks). Returns the 1-based (I, N)."""
    if shard is None:
        return None
    if base not in (0, 1):
        raise RealBenchError(f"--shard-base must be 0 or 1, got {base}")
    if shard == "slurm":
        env = os.environ
        try:
            task, first = int(env["SLURM_ARRAY_TASK_ID"]), int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
            total = int(env.get("SLURM_ARRAY_TASK_COUNT") or int(env["SLURM_ARRAY_TASK_MAX"]) - first + 1)
        except (KeyError, ValueError):
            raise RealBenchError("--shard slurm needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (or _MAX) "
                                 "set by sbatch --array") from None
        shard, base = (task - first, total), 0
    if isinstance(shard, str):
        try:
            index, total = (int(part) for part in shard.split("/"))
        except ValueError:
            raise RealBenchError(f"--shard expects I/N, e.g. 1/4, got '{shard}'") from None
    else:
        index, total = shard
    if total < 1 or not base <= index <= total - 1 + base:
        raise RealBenchError(f"--shard {index}/{total}: I must be between {base} and {total - 1 + base} "
                             f"(counted from {base}{'; pass --shard-base 0 for 0-based indices' if base else ''})")
    return index + 1 - base, total


def shard_scenes(scenes: Sequence[Scene], index: int, total: int) -> list[Scene]:
    """Deterministic split: scenes in natural id order, the k-th goes to shard (k mod N) + 1."""
    ordered = sorted(scenes, key=lambda s: natural_key(s.id))
    return [s for k, s in enumerate(ordered) if k % total == index - 1]


def plan_work(bench, counts, method, out: Path, done, protocols, selector, reselect: bool = False,
              adapter=None) -> list[SceneWork]:
    """Per scene: samples never made, and recorded samples that lack a metric value, hold one
    computed under another protocol (version, options, weights), or need ranking (rescored
    from their stored image, never mixed). A sample whose inputs changed since it was recorded
    (scene content, an external image) is refused."""
    plan = []
    for scene in bench:
        todo, rescore, images = [], [], []
        for index in range(counts[scene.id]):
            record = done.get((method, scene.id, index))
            if record is None or not _image_path(out, record).exists():
                todo.append(index)
                continue
            if record.get("scene_checksum") != scene.checksum:
                raise RealBenchError(
                    "scene content changed since this run recorded it; use another --out", scene=scene.id,
                    path=str(out))
            changed = adapter.changed_input(scene, index, record.get("info") or {}) if adapter is not None else None
            if changed:
                raise RealBenchError(f"{changed} changed since this run scored it (sample {index}); use another "
                                     "--out to score the new version", scene=scene.id, path=str(out))
            needs_rank = selector is not None and (reselect or record.get("correspondences") is None)
            if _missing_metrics(record, protocols) or needs_rank:
                rescore.append(record)
                images.append(read_rgb(_image_path(out, record), scene.id))
        if todo or rescore:
            plan.append(SceneWork(scene, todo, rescore, images, reselect))
    return plan


def _image_path(out: Path, record: dict[str, Any]) -> Path:
    """A record's image, which must lie inside the run folder (records are data too)."""
    from .paths import check_out, inside

    return inside(out, str(record.get("image", "")), "record image")


def _score(scorers, scene: Scene, images: list[np.ndarray], names: Iterable[str]) -> dict[str, list]:
    """Values per metric; the ground-truth side comes from each metric's per-scene cache."""
    return {name: scorers[name].score(scorers[name].reference(scene), scene, images) for name in names}


def _missing_metrics(record: dict[str, Any], protocols: dict[str, dict]) -> list[str]:
    """Usable metrics a record has no value for (never scored, recorded as unavailable) or has
    under another protocol than the current one (version, options or weights)."""
    have, recorded = record.get("metrics") or {}, record.get("metric_protocols") or {}
    return [n for n, protocol in protocols.items()
            if have.get(n) is None or canonical_json(recorded.get(n)) != canonical_json(protocol)]


def process_scene(work: SceneWork, adapter, scorers, selector, spec: RunSpec) -> Iterator[list[dict[str, Any]]]:
    """The pure worker: yields, per chunk, one result dict per sample (no file is written here)."""
    scene = work.scene
    if work.rescore:
        results = []
        protocols = {n: s.full_protocol() for n, s in scorers.items()}
        for record, image in zip(work.rescore, work.images):
            missing = _missing_metrics(record, protocols)
            values = _score(scorers, scene, [image], missing)
            result = {"rescore": record, "metrics": {n: v[0] for n, v in values.items()}}
            if selector is not None and (work.reselect or record.get("correspondences") is None):
                result["correspondences"] = selector.score(scene, image)
            results.append(result)
        yield results
    if not work.todo:
        return
    started = time.perf_counter()
    adapter.prepare(scene, Path(spec.out) / "work" / scene.id)
    prepare_seconds = time.perf_counter() - started
    for chunk in _chunks(work.todo, int(adapter.generation_batch)):
        seeds = [adapter.seed_for(spec.seed, index) for index in chunk]
        started = time.perf_counter()
        outputs = adapter.generate(scene, seeds)
        seconds = (time.perf_counter() - started) / max(len(chunk), 1)
        images = []
        for output in outputs:
            if output.image.shape != scene.target.shape or output.image.dtype != np.uint8:
                raise RealBenchError(
                    f"method '{spec.method}' returned an image of shape {output.image.shape} {output.image.dtype}, "
                    f"expected {scene.target.shape} uint8", scene=scene.id)
            images.append(composite(output.image, scene.target, scene.mask, adapter.feather)
                          if adapter.composites else output.image)
        values = _score(scorers, scene, images, scorers)
        results = []
        for position, (index, image, output) in enumerate(zip(chunk, images, outputs)):
            result = {"sample": index, "seed": seeds[position], "image": image, "info": output.info,
                      "metrics": {n: v[position] for n, v in values.items()},
                      "seconds": {"prepare": prepare_seconds, "generate": seconds}}
            if selector is not None:
                result["correspondences"] = selector.score(scene, image)
            results.append(result)
        yield results
    adapter.release()


class RecordWriter:
    """Driver side: turns worker results into PNGs and records, atomically and in arrival order.
    Every file goes through ``inside``: a symbolic link planted in the run folder is refused."""

    def __init__(self, out: Path, store: RecordStore, context: dict[str, Any], bar):
        self.out, self.store, self.context, self.bar = out, store, context, bar

    def write(self, scene: Scene, results: list[dict[str, Any]]) -> None:
        ctx = self.context
        records = []
        for result in results:
            if "rescore" in result:
                record = dict(result["rescore"])
                record["metrics"] = {**record.get("metrics", {}), **result["metrics"]}
                record["metric_protocols"] = {**record.get("metric_protocols", {}),
                                              **{n: ctx["protocols"][n] for n in result["metrics"]}}
                if "correspondences" in result:
                    record["correspondences"] = result["correspondences"]
                records.append(record)
                continue
            image = result["image"]
            rel = Path("images") / scene.id / f"{result['sample']:03d}.png"
            write_png(inside(self.out, rel, "image"), image)
            record = {
                "method": ctx["method"], "scene": scene.id, "task": scene.task, "sample": result["sample"],
                "seed": result["seed"], "config_hash": ctx["chash"], "scene_checksum": scene.checksum,
                "image": str(rel), "image_sha256": hashlib.sha256(image.tobytes()).hexdigest()[:16],
                "metrics": {**result["metrics"], **{n: None for n in ctx["unavailable"]}},
                "metric_protocols": dict(ctx["protocols"]),
                "info": result["info"], "seconds": result["seconds"],
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **ctx["provenance"],
            }
            if "correspondences" in result:
                record["correspondences"] = result["correspondences"]
            records.append(record)
        self.store.append(records)
        self.bar.update(len(results))
