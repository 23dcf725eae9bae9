"""One typed description of a run (like lm-evaluation-harness's ``EvaluatorConfig``): the CLI
builds it from flags, the Python API from keywords, and ``run`` takes nothing else."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import RealBenchError


@dataclass
class RunConfig:
    method: str  # a registered name, folder:PATH or module:Class
    data: Any = "sample"  # "sample", a folder or zip, a dataset, a hub id, or a loaded Benchmark
    scenes: list[str] | None = None
    samples: int | None = None  # per scene; default: the benchmark's count for stochastic methods
    seed: int = 0
    metrics: list[str] | None = None  # names or sets ("table1", "none"); default: the benchmark's
    out: str | Path | None = None
    label: str | None = None  # the run's name in every table
    method_config: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, str] = field(default_factory=dict)
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    skip_unavailable: bool = False
    device: str | None = None
    select: bool = True
    selection_options: dict[str, Any] = field(default_factory=dict)
    keep: int | None = None
    max_refs: int | None = None
    shard: str | tuple[int, int] | None = None
    shard_base: int = 1
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    ray_gpus_per_task: float | None = None
    split: str | None = None  # the split of a Hugging Face dataset
    benchmark: str | None = None  # the protocol (`realbench benchmarks`); default: from the folder or card
    progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.metrics, str):  # "psnr" or "psnr,ssim", as on the command line
            self.metrics = [m.strip() for m in self.metrics.split(",") if m.strip()]
        if isinstance(self.scenes, str):
            self.scenes = [s.strip() for s in self.scenes.split(",") if s.strip()]
        for name in ("method_config", "weights", "metric_options", "selection_options"):
            if getattr(self, name) is None:
                setattr(self, name, {})
        if not isinstance(self.method, str) or not self.method:
            raise RealBenchError("a run needs a method name")
        if self.executor not in ("local", "ray"):
            raise RealBenchError(f"unknown executor '{self.executor}' (local or ray)")
        for name, value in (("--samples", self.samples), ("--keep", self.keep), ("--max-refs", self.max_refs)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise RealBenchError(f"{name} must be a whole number of at least 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise RealBenchError(f"--seed must be a whole number, got {self.seed!r}")

