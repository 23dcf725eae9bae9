"""``run(RunConfig)``: generate samples with a method, score them, record everything; resumable.

Running has two phases. ``plan_run`` validates everything (data, method and its model, metrics and
their weights, the output folder and what it already holds, every external input, the Ray
cluster) and writes nothing. ``execute`` then creates the folder, takes its lock, plans the missing
work from the records and writes images and records as results arrive from the worker
(``realbench.run.worker``), in-process or on Ray. A run that fails before it produced anything leaves
no folder behind. Summaries are the summarising layer's job.
"""
from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from realbench.core import words
from realbench.core.devices import check_device, device_class
from realbench.core.errors import NothingToRun, RealBenchError, RealBenchWarning
from realbench.core.imageio import max_pixels, pixel_limit
from realbench.core.paths import check_out
from realbench.core.provenance import config_hash, git_hash, versions
from realbench.core.settings import flatten, identity_config
from realbench.data.loading import Benchmark
from realbench.metrics import METRICS
from realbench.selection.correspondences import CorrespondenceScorer

from .components import expand_metric_names, resolve_method, resolve_metrics
from .eta import RunEta
from .executors import connect_ray, run_with_ray
from .naming import default_out
from .planning import Selection, load_rescore_images, plan_work, select_data
from .runconfig import RunConfig
from .runfolder import RecordWriter, RunFolder
from .runmeta import DataInfo, RunMeta
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


@dataclass
class RunPlan:
    """Everything a run decided before writing anything."""

    config: RunConfig
    bench: Benchmark
    adapter: Any
    scorers: dict[str, Any]
    unavailable: dict[str, str]
    selector: CorrespondenceScorer | None
    counts: dict[str, int]
    protocols: dict[str, dict]
    meta: RunMeta
    folder: RunFolder
    session: Any = None


@dataclass
class RunOutcome:
    """What a run did: its folder, what run.json now says, and the work it found and did."""

    folder: RunFolder
    meta: RunMeta
    total: int  # samples the run asked for
    made: int  # generated now
    rescored: int  # recorded before, scored again now
    scenes: int  # scenes this command worked on

    @property
    def already(self) -> int:
        return self.total - self.made - self.rescored


def run(config: RunConfig) -> RunOutcome:
    """Run ``config``. Nothing is written before everything is validated, the weights found and
    (for Ray) the cluster reached; a run that fails before producing anything leaves no trace."""
    with pixel_limit(config.max_pixels):
        return execute(plan_run(config))


def _metric_names(config: RunConfig, adapter, bench: Benchmark) -> list[str]:
    definition = bench.definition
    if adapter.generation_only:
        asked = expand_metric_names(config.metrics or [], definition)
        if asked:
            raise RealBenchError(f"method '{config.method}' generates scene variants here (no completion of the "
                                 f"target), so nothing can be scored against the ground truth; leave --metrics out "
                                 f"(asked for: {', '.join(asked)})")
        return []
    metrics = config.metrics
    if metrics is None:  # the benchmark's defaults; none where there is no ground truth to score against
        metrics = list(definition.default_metrics) if bench.has_ground_truth else []
    return expand_metric_names(metrics, definition)


def _check_ground_truth(bench: Benchmark, scoring: bool) -> None:
    for scene in bench:
        if scene.gt is None and scoring:
            raise RealBenchError(
                f"no ground truth (target/gt.png) in data '{bench.name}', so it can be generated but not scored; "
                "pass --metrics none to generate only", scene=scene.id)


def plan_run(config: RunConfig) -> RunPlan:
    """Validate everything and decide what the run is; writes nothing."""
    device = check_device(config.device)
    selection = select_data(config)
    bench, shard = selection.bench, selection.shard
    if shard is not None and not bench.scenes:
        scenes = words.count(len(selection.all_scenes), "scene")
        raise NothingToRun(f"shard {shard[0]}/{shard[1]} holds no scene ({scenes} split {shard[1]} ways); "
                           "nothing to run")
    adapter = resolve_method(config.method, config.method_config)
    adapter.device, adapter.progress = device, config.progress
    metric_names = _metric_names(config, adapter, bench)
    if config.keep is not None and (not config.select or adapter.generation_only):
        raise RealBenchError("--keep ranks samples by reference correspondences, which --no-select (or a "
                             "generation-only run) switches off")
    # with Ray the driver only validates and records protocols: its models stay on the CPU, GPUs are the workers'
    driver_device = "cpu" if config.executor == "ray" else device
    scorers, unavailable = resolve_metrics(metric_names, config.weights, config.metric_options,
                                           config.skip_unavailable, driver_device)
    select = config.select and not adapter.generation_only
    selector = CorrespondenceScorer(config.selection_options, weights=dict(config.weights),
                                    device=device) if select else None
    adapter.check_scenes(bench.ids)
    definition = bench.definition
    counts = {scene.id: adapter.sample_count(scene, config.samples, definition.samples_per_scene) for scene in bench}
    most = max(counts.values(), default=1)
    if config.seed + most - 1 >= 2**63:  # sample k's seed is seed + k: the last one must be a valid seed too
        raise RealBenchError(f"--seed {config.seed} with {words.count(most, 'sample')} per scene gives seeds past "
                             f"2**63 - 1; use a seed of at most {2**63 - most}")
    _check_ground_truth(bench, bool(scorers or unavailable))
    widest = max((max(scene.size) for scene in bench), default=0)
    if adapter.feather > widest:
        raise RealBenchError(f"feather={adapter.feather} is wider than any scene ({widest} px at most); a feather "
                             "blends the output over a few pixels of the known region")
    protocols = {n: s.full_protocol() for n, s in scorers.items()}
    meta = replace(_meta(config, selection, adapter, metric_names, unavailable, protocols, selector, device),
                   samples=dict(counts))
    out = Path(config.out) if config.out is not None else default_out(config, adapter, bench, shard, meta)
    check_out(out)
    folder = RunFolder(out)
    if config.label is None and folder.exists():  # resuming without --label keeps the folder's name
        meta = replace(meta, label=folder.read_meta().label)
    folder.joined(meta)  # a folder holding another run is refused here, before anything is written
    adapter.check_inputs(bench.scenes, counts)  # e.g. every image of folder:PATH
    session = connect_ray(config.ray_address) if config.executor == "ray" else None
    return RunPlan(config, bench, adapter, scorers, unavailable, selector, counts, protocols, meta, folder, session)


def _meta(config: RunConfig, selection: Selection, adapter, metric_names: list[str], unavailable: dict[str, str],
          protocols: dict[str, dict], selector, device: str | None) -> RunMeta:
    bench, shard = selection.bench, selection.shard
    uses_torch = (adapter.info.needs_weights or any(METRICS.get(n).info.needs_weights for n in protocols)
                  or bool(selector and selector.options["matcher"] != "sift"))
    run_config = {"method": config.method, "method_version": adapter.info.version,
                  "config": identity_config(type(adapter).Settings, adapter.config), "seed": config.seed,
                  "max_refs": config.max_refs}
    chash = config_hash(run_config)
    data = DataInfo(name=bench.name, spec=bench.spec, kind=bench.kind, ground_truth=bench.has_ground_truth,
                    scene_checksums={s.id: s.checksum for s in bench}, all_scenes=selection.all_scenes,
                    split=config.split if config.split in bench.definition.splits else None, note=bench.note,
                    all_checksum=selection.all_checksum, tasks={s.id: s.task for s in bench})
    return RunMeta(
        label=config.label or default_label(config.method, adapter, config.seed, config.max_refs, chash),
        method=config.method, config_hash=chash, config=adapter.config, method_info=adapter.info.as_dict(),
        seed=config.seed, max_refs=config.max_refs, benchmark=bench.definition.as_dict(), data=data,
        scenes=bench.ids, shard=shard, metrics=metric_names, unavailable=unavailable,
        metric_info={n: METRICS.get(n).info.as_dict() for n in metric_names}, metric_protocols=protocols,
        selection=selector.protocol() if selector else None, executor=config.executor, device=device,
        device_class=run_device_class(device, uses_torch), created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        versions=versions(), git=git_hash())


def execute(plan: RunPlan) -> RunOutcome:
    """Create the folder, take its lock, do the missing work, record it."""
    folder = plan.folder
    existed, had_meta = folder.path.exists(), folder.exists()
    lock = None
    try:
        try:
            folder.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RealBenchError(f"cannot create the output folder ({exc.strerror or exc})",
                                 path=str(folder.path)) from None
        lock = folder.lock().acquire()
        return _work(plan, folder)
    except BaseException:
        if lock is not None:
            lock.release()
            lock = None
            if folder.undo_start(created=not existed, had_meta=had_meta):
                log.info("the run failed before producing anything; removed what it had written in %s", folder.path)
        raise
    finally:
        if plan.session is not None:
            plan.session.close()
        if lock is not None:
            lock.release()


def _work(plan: RunPlan, folder: RunFolder) -> RunOutcome:
    config, selector = plan.config, plan.selector
    meta, old = folder.open(plan.meta)
    reselect = bool(selector and old and old.selection and old.selection != selector.protocol())
    work = plan_work(plan.bench, plan.counts, config.method, folder, folder.store().load(), plan.protocols, selector,
                     reselect, plan.adapter)
    _warn_rescoring(work, plan.protocols, reselect)
    total = sum(plan.counts.values())
    made, rescored = sum(len(w.todo) for w in work), sum(len(w.rescore) for w in work)
    log.info("%s: %s to work on, %s to make, %d to score again; %d of %d already recorded", folder.path,
             words.count(len(work), "scene"), words.count(made, "sample"), rescored, total - made - rescored, total)
    spec = RunSpec(config.method, dict(config.method_config), list(plan.scorers), dict(config.weights),
                   dict(config.metric_options), config.skip_unavailable, plan.adapter.device,
                   selector.options if selector else None, config.seed, str(folder.work_dir), max_pixels(),
                   plan.protocols)
    context = {"method": config.method, "chash": meta.config_hash, "protocols": plan.protocols,
               "unavailable": list(plan.unavailable), "provenance": {"versions": versions(), "git": git_hash()}}
    with _progress(config, total, total - made - rescored) as bar:
        writer = RecordWriter(folder, context, bar)
        try:
            if plan.session is not None:
                for item in work:
                    load_rescore_images(item, folder)
                run_with_ray(work, spec, writer, plan.session, config.ray_gpus_per_task)
            else:
                _run_locally(work, plan, spec, writer, bar, folder)
        except BaseException:
            writer.close(raise_errors=False)  # what was computed is committed; the first error stays in charge
            raise
        writer.close()
    return RunOutcome(folder, meta, total, made, rescored, len(work))


def _run_locally(work: list[SceneWork], plan: RunPlan, spec: RunSpec, writer: RecordWriter, bar, folder) -> None:
    eta = RunEta(work, plan.adapter, folder.work_dir)
    for position, item in enumerate(work):
        bar.set_postfix_str(" | ".join(t for t in (item.scene.id, eta.text()) if t))
        load_rescore_images(item, folder)
        upcoming = work[position + 1] if position + 1 < len(work) else None
        for results in process_scene(item, plan.adapter, plan.scorers, plan.selector, spec, upcoming):
            writer.write(item.scene, results)
            eta.observe(item.scene.id, results)
            bar.set_postfix_str(" | ".join(t for t in (item.scene.id, eta.text()) if t))
        item.images = []  # the recorded images of a scene are read when it comes, and dropped after it


@contextlib.contextmanager
def _progress(config: RunConfig, total: int, done: int) -> Iterator[Any]:
    """The run's progress bar; with ``progress=False`` the libraries' bars are off too."""
    with contextlib.ExitStack() as stack:
        if not config.progress:
            stack.enter_context(quiet_library_progress())
        bar = tqdm(total=total, initial=done, desc=config.method, unit="sample", disable=not config.progress)
        stack.callback(bar.close)
        yield bar


@contextlib.contextmanager
def quiet_library_progress() -> Iterator[None]:
    """Switch off the progress bars of the libraries a run loads models with (diffusers,
    transformers, huggingface_hub, datasets) for the run, and restore them after. Only libraries
    already imported are touched (importing them costs seconds); one imported later by a method
    reads ``HF_HUB_DISABLE_PROGRESS_BARS``, set for the run, and the method's own bars follow
    ``Method.progress``."""
    import importlib
    import os
    import sys

    restore = []
    previous = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    for module_name, off, on, state in (
            ("huggingface_hub.utils", "disable_progress_bars", "enable_progress_bars", "are_progress_bars_disabled"),
            ("diffusers.utils.logging", "disable_progress_bar", "enable_progress_bar", "is_progress_bar_enabled"),
            ("transformers.utils.logging", "disable_progress_bar", "enable_progress_bar", "is_progress_bar_enabled"),
            ("datasets.utils.logging", "disable_progress_bar", "enable_progress_bar", "is_progress_bar_enabled")):
        if module_name.split(".")[0] not in sys.modules:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        was_on = not getattr(module, state)() if state.startswith("are_") else getattr(module, state)()
        getattr(module, off)()
        if was_on:
            restore.append(getattr(module, on))
    try:
        yield
    finally:
        for enable in restore:
            enable()
        if previous is None:
            os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
        else:
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = previous


def run_device_class(device: str | None, uses_torch: bool) -> str:
    """Where methods and metrics compute (``gpu``, ``mps`` or ``cpu``, by the one device rule); the
    CPU when nothing in the run computes with torch (weight-free metrics and methods, SIFT
    ranking), which keeps such runs from importing torch at all."""
    if device is None and not uses_torch:
        return "cpu"
    return device_class(device)


def _warn_rescoring(plan: list[SceneWork], protocols: dict[str, dict], reselect: bool) -> None:
    changed: dict[str, int] = {}
    for work in plan:
        for record in work.rescore:
            for name in missing_metrics(record, protocols):
                if record.metrics.get(name) is not None and name in record.metric_protocols:
                    changed[name] = changed.get(name, 0) + 1
    for name, n in changed.items():
        warnings.warn(f"metric '{name}': the recorded values of {words.count(n, 'sample')} were computed under another "
                      "protocol (version, options or weights); rescoring them from their stored images",
                      RealBenchWarning, stacklevel=3)
    if reselect:
        warnings.warn("the seed-selection settings changed since this run was ranked; ranking every recorded "
                      "sample again", RealBenchWarning, stacklevel=3)
