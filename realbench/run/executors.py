"""Running scenes as Ray tasks: the same worker as the local executor, on a local Ray started on
demand or an existing cluster. Results stream back to the driver, which writes them as each
task finishes; a killed run resumes from its records like any other.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from typing import Any

from realbench.core.errors import RealBenchError, describe
from realbench.core.imageio import pixel_limit

from .worker import build_components, process_scene

log = logging.getLogger(__name__)


def run_scene_task(work, spec) -> list[list[dict[str, Any]]]:
    """One Ray task: one scene's missing work, all chunks (components built once per worker)."""
    with pixel_limit(spec.max_pixels):
        adapter, scorers, selector = build_components(spec)
        return list(process_scene(work, adapter, scorers, selector, spec))


def default_gpus_per_task() -> float:
    try:
        import torch

        return 1.0 if torch.cuda.is_available() else 0.0
    except ImportError:
        return 0.0


CONNECT_TIMEOUT = 30.0


class _Deadline(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float):
    """Raise ``_Deadline`` in the main thread after ``seconds`` (SIGALRM; Ray must be started from
    the main thread, so a watchdog thread is no option). Elsewhere: no limit."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise _Deadline

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class RaySession:
    """A Ray connection made before anything is written; ``close`` shuts down what it started."""

    def __init__(self, ray, started_here: bool):
        self.ray, self.started_here = ray, started_here

    def close(self) -> None:
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()


def _reachable(address: str, timeout: float) -> None:
    """A TCP connect to ``host:port`` first: an unreachable address fails in seconds, not after
    Ray's own retries (which run for many minutes)."""
    import socket

    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" or a name Ray resolves itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except OSError as exc:
        raise RealBenchError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); check --ray-address "
                             "(host:port of the head node's GCS, 6379 by default) "
                             "or leave it out for a local Ray") from None


def connect_ray(address: str | None = None, num_cpus: int | None = None,
                timeout: float = CONNECT_TIMEOUT) -> RaySession:
    """Start a local Ray or connect to ``address`` within ``timeout`` seconds, or one clear error."""
    try:
        import ray
    except ImportError:
        raise RealBenchError("--executor ray needs Ray: pip install -e \".[ray]\"") from None
    if ray.is_initialized():
        return RaySession(ray, False)
    if address:
        _reachable(address, min(timeout, 10.0))
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
        with _deadline(timeout):
            ray.init(**kwargs)
    except _Deadline:
        if ray.is_initialized():
            ray.shutdown()
        raise RealBenchError(f"Ray did not come up within {timeout:.0f} s"
                             + (f" at {address}" if address else "") + "; nothing was written") from None
    except Exception as exc:  # connection refused, bad address, ...
        raise RealBenchError(f"cannot start or reach Ray ({describe(exc)})") from None
    if address is None:
        log.info("started a local Ray cluster")
    else:
        log.info("connected to the Ray cluster at %s", address)
    return RaySession(ray, True)


def run_with_ray(plan, spec, writer, session: RaySession, gpus_per_task: float | None = None) -> None:
    """Scenes as Ray tasks; results are written as tasks finish. Ctrl-C or SIGTERM cancels every
    task still pending (what finished stays recorded, so a rerun resumes)."""
    ray = session.ray
    if not plan:
        return
    gpus = default_gpus_per_task() if gpus_per_task is None else float(gpus_per_task)
    task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(run_scene_task)
    pending = {task.remote(work, spec): work for work in plan}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)  # wakes up for Ctrl-C
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
