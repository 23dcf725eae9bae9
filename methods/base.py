"""The method interface: fit once per scene, then sample many times.

``prepare(scene, workdir)`` is where a method like RealFill fine-tunes (and caches what it
learned under ``workdir``); ``generate(scene, seeds)`` returns one output per seed. The runner,
not the method, composites every output over the target, so no method can leak changes to
known pixels into the scores.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from realbench.config import merge_config
from realbench.scene import Scene


@dataclass(frozen=True)
class MethodInfo:
    name: str
    stochastic: bool
    needs_weights: bool = False
    description: str = ""
    version: str = "1"  # bump when outputs change for the same config

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Output:
    """One generated sample; ``info`` lands in the sample's record (e.g. which reference was used)."""

    image: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


class Method:
    info: ClassVar[MethodInfo]
    default_config: ClassVar[dict[str, Any]] = {"feather": 0}

    def __init__(self, config: dict[str, Any] | None = None):
        self.config = merge_config(self.default_config, config or {}, f"method '{self.info.name}'")

    @property
    def feather(self) -> int:
        return int(self.config.get("feather", 0))

    @property
    def composites(self) -> bool:
        """Whether the runner pastes the known pixels back over every output (almost always)."""
        return True

    generation_batch: int = 8  # seeds per generate() call

    def check_scenes(self, scene_ids: list[str]) -> None:
        """Fail before any work if the method cannot run these scenes."""

    def sample_count(self, scene: Scene, requested: int | None) -> int:
        """Samples for a scene: as asked, else 64 (RealFill's count) if stochastic, else 1."""
        if requested is not None:
            return requested
        return 64 if self.info.stochastic else 1

    def seed_for(self, base_seed: int, index: int) -> int:
        """Seed of sample ``index``: ``base_seed + index``, recorded with the sample."""
        return base_seed + index

    def prepare(self, scene: Scene, workdir: Path) -> None:
        """Per-scene fitting; the default has nothing to fit."""

    def generate(self, scene: Scene, seeds: Sequence[int]) -> list[Output]:
        raise NotImplementedError

    def release(self) -> None:
        """Free per-scene state (GPU memory) after a scene is done."""
