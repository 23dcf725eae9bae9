"""``run(RunConfig)``: generate samples with a method, score them, record everything; resumable.

The driver validates everything first (data, method settings, metrics and their weights, the
output folder, every external input, the Ray cluster), then takes the run folder's lock, plans
the missing work from the records and writes images and records as results arrive from the
worker (``realbench.worker``), in-process or on Ray. Summaries are the summarising layer's job.
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .components import expand_metric_names, resolve_method, resolve_metrics
from .devices import check_device
from .errors import RealBenchError, RealBenchWarning
from .executors import connect_ray, run_with_ray
from .metrics import METRICS
from .paths import check_out
from .planning import plan_work, select_data
from .provenance import config_hash, git_hash, versions
from .runconfig import RunConfig
from .runfolder import RecordWriter, RunFolder
from .scene import scenes_checksum
from .selection import CorrespondenceScorer
from .settings import flatten
from .worker import RunSpec, SceneWork, missing_metrics, process_scene

log = logging.getLogger(__name__)


def default_label(method: str, adapter, seed: int, max_refs: int | None, chash: str) -> str:
    """The method name plus the settings in which the run differs from the method's defaults
    (``telea(radius=3)``); when that gets long, the method name and the config hash."""
    base = f"folder:{Path(method[7:]).name}" if method.startswith("folder:") else method
    defaults = flatten(type(adapter).default_config)
    diffs = [f"{k}={v}" for k, v in flatten(adapter.config).items() if k != "path" and defaults.get(k) != v]
    diffs += [f"seed={seed}"] if seed else []
    diffs += [f"max_refs={max_refs}"] if max_refs else []
    text = f"{base}({', '.join(diffs)})" if diffs else base
    return text if len(text) <= 48 else f"{base}@{chash[:6]}"


def run(config: RunConfig) -> tuple[RunFolder, dict[str, Any]]:
    """Run ``config`` and return its folder and the ``run.json`` recorded. Nothing is written
    before everything is validated, the weights found and (for Ray) the cluster reached."""
    device = check_device(config.device)
    bench, all_scenes, shard = select_data(config)
    definition = bench.definition
    adapter = resolve_method(config.method, config.method_config)
    adapter.device = device
    metrics = config.metrics
    if metrics is None:  # the benchmark's defaults; none where there is no ground truth to score against
        metrics = list(definition.default_metrics) if bench.has_ground_truth else []
    metric_names = expand_metric_names(metrics, definition)
    # with Ray the driver only validates and records protocols: its models stay on the CPU, GPUs are the workers'
    driver_device = "cpu" if config.executor == "ray" else device
    scorers, unavailable = resolve_metrics(metric_names, config.weights, config.metric_options,
                                           config.skip_unavailable, driver_device, definition)
    selector = (CorrespondenceScorer(config.selection_options, weights=dict(config.weights), device=device)
                if config.select else None)
    adapter.check_scenes(bench.ids)
    counts = {scene.id: adapter.sample_count(scene, config.samples, definition.samples_per_scene) for scene in bench}
    for scene in bench:
        if scene.gt is None and (scorers or unavailable):
            raise RealBenchError(
                f"no ground truth (target/gt.png) in data '{bench.name}', so it can be generated but not scored; "
                "pass --metrics none to generate only", scene=scene.id)

    protocols = {n: s.full_protocol() for n, s in scorers.items()}
    uses_torch = (adapter.info.needs_weights or any(s.info.needs_weights for s in scorers.values())
                  or bool(selector and selector.options["matcher"] != "sift"))
    run_config = {"method": config.method, "method_version": adapter.info.version, "config": adapter.config,
                  "seed": config.seed, "max_refs": config.max_refs}
    chash = config_hash(run_config)
    label = config.label or default_label(config.method, adapter, config.seed, config.max_refs, chash)
    folder_name = (config.method if not config.method.startswith("folder:")
                   else f"folder-{Path(config.method[7:]).name}")
    out = Path(config.out) if config.out is not None else Path("runs") / f"{folder_name.replace(':', '-')}-{bench.name}"
    meta = {
        "label": label, "method": config.method, "method_info": adapter.info.as_dict(), "config": adapter.config,
        "seed": config.seed, "max_refs": config.max_refs, "config_hash": chash,
        "benchmark": definition.as_dict(),
        "data": {"name": bench.name, "spec": bench.spec, "kind": bench.kind, "ground_truth": bench.has_ground_truth,
                 "checksum": scenes_checksum((s.id, s.checksum) for s in bench),
                 "all_scenes": all_scenes, **({"note": bench.note} if bench.note else {})},
        "metrics": metric_names, "unavailable": unavailable,
        "metric_info": {n: METRICS.get(n).info.as_dict() for n in metric_names},
        "metric_protocols": protocols,
        "selection": selector.protocol() if selector else None,
        "shard": f"{shard[0]}/{shard[1]}" if shard else None, "scenes": bench.ids, "executor": config.executor,
        "device": device, "device_class": _device_class(device, uses_torch),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": versions(), "git": git_hash(),
    }
    check_out(out)
    adapter.check_inputs(bench.scenes, counts)  # e.g. every image of folder:PATH, before any write
    session = connect_ray(config.ray_address) if config.executor == "ray" else None  # before any write
    folder, lock = RunFolder(out), None
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RealBenchError(f"cannot create the output folder ({exc.strerror or exc})", path=str(out)) from None
        lock = folder.lock().acquire()
        meta, old = folder.open(meta)
        reselect = bool(selector and old and old.get("selection") and old["selection"] != selector.protocol())
        plan = plan_work(bench, counts, config.method, folder, folder.store().load(), protocols, selector, reselect,
                         adapter)
        _warn_rescoring(plan, protocols, reselect)
        log.info("%s: %d scene(s) to work on, %d sample(s) to make, %d to score again; %d already recorded",
                 folder.path, len(plan), sum(len(w.todo) for w in plan), sum(len(w.rescore) for w in plan),
                 sum(counts.values()) - sum(len(w.todo) + len(w.rescore) for w in plan))
        spec = RunSpec(config.method, dict(config.method_config), list(scorers), dict(config.weights),
                       dict(config.metric_options), config.skip_unavailable, device,
                       selector.options if selector else None, config.seed, str(folder.work_dir))
        context = {"method": config.method, "chash": chash, "protocols": protocols, "unavailable": list(unavailable),
                   "provenance": {"versions": versions(), "git": git_hash()}}
        bar = tqdm(total=sum(counts.values()), desc=f"{config.method}", unit="sample", disable=not config.progress)
        bar.update(sum(counts.values()) - sum(len(w.todo) + len(w.rescore) for w in plan))
        writer = RecordWriter(folder, context, bar)
        try:
            if session is not None:
                run_with_ray(plan, spec, writer, session, config.ray_gpus_per_task)
            else:
                for position, work in enumerate(plan):
                    bar.set_postfix_str(work.scene.id)
                    upcoming = plan[position + 1] if position + 1 < len(plan) else None
                    for results in process_scene(work, adapter, scorers, selector, spec, upcoming):
                        writer.write(work.scene, results)
        except BaseException:
            writer.close(raise_errors=False)  # what was computed is committed; the first error stays in charge
            raise
        writer.close()
        bar.close()
    finally:
        if session is not None:
            session.close()
        if lock is not None:
            lock.release()
    return folder, meta


def _device_class(device: str | None, uses_torch: bool) -> str:
    """Where methods and metrics compute: an explicit --device, else CUDA when present; the CPU
    when nothing in the run computes with torch (weight-free metrics and methods, SIFT ranking),
    which keeps such runs from importing torch at all."""
    if device is None:
        if not uses_torch:
            return "cpu"
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "gpu" if device.startswith(("cuda", "mps")) else "cpu"


def _warn_rescoring(plan: list[SceneWork], protocols: dict[str, dict], reselect: bool) -> None:
    changed: dict[str, int] = {}
    for work in plan:
        for record in work.rescore:
            recorded = record.get("metric_protocols") or {}
            for name in missing_metrics(record, protocols):
                if (record.get("metrics") or {}).get(name) is not None and name in recorded:
                    changed[name] = changed.get(name, 0) + 1
    for name, count in changed.items():
        warnings.warn(f"metric '{name}': the recorded values of {count} sample(s) were computed under another "
                      "protocol (version, options or weights); rescoring them from their stored images",
                      RealBenchWarning, stacklevel=3)
    if reselect:
        warnings.warn("the seed-selection settings changed since this run was ranked; ranking every recorded "
                      "sample again", RealBenchWarning, stacklevel=3)
