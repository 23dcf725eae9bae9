"""One typed description of a run (like lm-evaluation-harness's ``EvaluatorConfig``): the CLI
builds it from flags, the Python API from keywords, and ``run`` takes nothing else."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from realbench.core.errors import RealBenchError
from realbench.core.fields import brief, text_list
from realbench.core.imageio import check_max_pixels
from realbench.core.paths import check_utf8_path
from realbench.core.unzip import ArchiveLimits

MAX_SAMPLES = 10_000  # per scene: RealFill draws 64; more is a typo (1e30 would plan forever)


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
    max_pixels: int | None = None  # images above this many pixels are refused (default 120 MP)
    archive_limits: str | None = None  # what a zip may unpack to: "bytes=40G,entries=200000,ratio=500"

    def __post_init__(self) -> None:
        self.metrics = text_list(self.metrics)  # "psnr" or "psnr,ssim", as on the command line
        self.scenes = text_list(self.scenes)
        if self.metrics is not None and not self.metrics:
            raise RealBenchError("--metrics names no metric (--metrics none generates without scoring)")
        if self.scenes is not None and not self.scenes:
            raise RealBenchError("--scenes names no scene (leave it out for all of them)")
        if self.label is not None:  # the label is written into every table
            check_utf8_path(str(self.label), "--label")
        for name in ("method_config", "weights", "metric_options", "selection_options"):
            if getattr(self, name) is None:
                setattr(self, name, {})
        if not isinstance(self.method, str) or not self.method:
            raise RealBenchError("a run needs a method name")
        if self.executor not in ("local", "ray"):
            raise RealBenchError(f"unknown executor '{self.executor}' (local or ray)")
        for name, value, most in (("--samples", self.samples, MAX_SAMPLES), ("--keep", self.keep, MAX_SAMPLES),
                                  ("--max-refs", self.max_refs, 1000)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most):
                raise RealBenchError(f"{name} must be a whole number from 1 to {most:,}, got {brief(value)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise RealBenchError(f"--seed must be a whole number from 0 to 2**63 - 1, got {brief(self.seed)}")
        if self.max_pixels is not None:
            check_max_pixels(self.max_pixels)
        ArchiveLimits.parse(self.archive_limits)  # a bad limit fails here, before any data is read
        if self.ray_gpus_per_task is not None and not (isinstance(self.ray_gpus_per_task, (int, float))
                                                       and 0 <= self.ray_gpus_per_task <= 1024):
            raise RealBenchError(f"--ray-gpus-per-task must be a number from 0 to 1024, got "
                                 f"{brief(self.ray_gpus_per_task)}")

