"""Running scenes as Ray tasks: the same worker as the local executor, on a local Ray started on
demand or an existing cluster. Results stream back to the driver, which writes them as each
task finishes; a killed run resumes from its records like any other.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from .errors import RealBenchError
from .provenance import config_hash

_WORKER_CACHE: dict[str, tuple] = {}


def _components(spec) -> tuple:
    """Method, metrics and selector rebuilt inside a worker, once per worker process."""
    key = config_hash({k: v for k, v in vars(spec).items()})
    if key not in _WORKER_CACHE:
        from .runner import resolve_method, resolve_metrics
        from .selection import CorrespondenceScorer

        adapter = resolve_method(spec.method, spec.config)
        scorers, _ = resolve_metrics(spec.metrics, spec.weights, spec.metric_options, spec.skip_unavailable,
                                     spec.device)
        selector = CorrespondenceScorer(spec.selection) if spec.selection is not None else None
        _WORKER_CACHE[key] = (adapter, scorers, selector)
    return _WORKER_CACHE[key]


def run_scene_task(work, spec) -> list[list[dict[str, Any]]]:
    """One Ray task: one scene's missing work, all chunks."""
    from .runner import process_scene

    adapter, scorers, selector = _components(spec)
    return list(process_scene(work, adapter, scorers, selector, spec))


def default_gpus_per_task() -> float:
    try:
        import torch

        return 1.0 if torch.cuda.is_available() else 0.0
    except ImportError:
        return 0.0


def run_with_ray(plan, spec, writer, address: str | None = None, gpus_per_task: float | None = None,
                 num_cpus: int | None = None) -> None:
    try:
        import ray
    except ImportError:
        raise RealBenchError("--executor ray needs Ray: pip install -e \".[ray]\"") from None
    if not plan:
        return
    started_here = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        else:  # a local cluster: workers see this process's import path and realbench settings
            env = {k: v for k, v in os.environ.items() if k.startswith(("REALBENCH_", "HF_", "TORCH_HOME"))}
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            kwargs["runtime_env"] = {"env_vars": env}
            if num_cpus is not None:
                kwargs["num_cpus"] = num_cpus
        try:
            ray.init(**kwargs)
        except Exception as exc:  # connection refused, bad address, ...
            first = (str(exc).splitlines() or [""])[0][:200]
            raise RealBenchError(f"cannot start or reach Ray ({type(exc).__name__}: {first})") from None
        started_here = True
    gpus = default_gpus_per_task() if gpus_per_task is None else float(gpus_per_task)
    task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(run_scene_task)
    pending = {task.remote(work, spec): work for work in plan}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                work = pending.pop(ref)
                try:
                    chunks = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if isinstance(getattr(exc, "cause", None), RealBenchError) else None
                    if cause is not None:
                        raise cause from None
                    raise
                for results in chunks:
                    writer.write(work.scene, results)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started_here and not address:
            ray.shutdown()
