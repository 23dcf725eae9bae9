"""The method interface: fit once per scene, then sample many times.

``prepare(scene, workdir)`` is where a method like RealFill fine-tunes (and caches what it
learned under ``workdir``); ``generate(scene, seeds)`` returns one output per seed. The runner,
not the method, composites an output over the target, so a method's changes to known pixels do
not reach the scores; a method that says it composites nothing (``composites`` False:
``folder:PATH`` without ``--composite``, scene variants from a blank canvas) is scored as it is.

The runner asks every method the same questions, whatever it is (``check_scenes``,
``sample_count``, ``check_inputs`` before anything is written; ``changed_input`` when resuming;
``prefetch`` while scoring); the defaults answer for a method that reads nothing from disk.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np

from realbench.core.registry import Registry
from realbench.core.scene import Scene
from realbench.core.settings import as_dict, parse_settings, setting, settings_from_defaults

METHODS = Registry("method", package="realbench.methods")


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
    """One generated sample; ``info`` lands in the sample's record (e.g. which reference was used).
    A method that could not do its job on a scene and fell back to something simpler says so in
    ``info["fallback"]`` (text): tables, summaries and reports show it."""

    image: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    # the bytes of a PNG holding exactly ``image`` (an image read from a file), stored as they are
    # instead of encoding ``image`` again, when the runner does not change a pixel of it
    encoded: bytes | None = field(default=None, repr=False, compare=False)


@dataclass
class MethodSettings:
    feather: int = setting(0, min=0, max=1024, help="pixels over which the output is blended into the known region")


class Method:
    """Subclasses declare ``Settings`` (a dataclass, see ``realbench.core.settings``); a plain
    ``default_config`` dict still works and is typed by its values."""

    info: ClassVar[MethodInfo]
    Settings: ClassVar[type | None] = MethodSettings
    default_config: ClassVar[dict[str, Any]] = as_dict(MethodSettings())

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "Settings" in cls.__dict__ and cls.__dict__["Settings"] is not None:
            cls.default_config = as_dict(cls.Settings())
        elif "default_config" in cls.__dict__:  # a plugin written with a defaults dict
            cls.Settings = settings_from_defaults(cls.__dict__["default_config"], f"{cls.__name__}Settings")

    def __init__(self, config: dict[str, Any] | None = None):
        # typed access for subclasses (self.settings.feather); ``config`` is its JSON-able form
        self.settings = parse_settings(cast(type, type(self).Settings), config or {}, f"method '{self.info.name}'")
        self.config = as_dict(self.settings)
        self.device: str | None = None  # set by the runner from --device; not part of the config hash

    @property
    def feather(self) -> int:
        return int(self.config.get("feather", 0))

    @property
    def composites(self) -> bool:
        """Whether the runner pastes the known pixels back over every output (almost always)."""
        return True

    @property
    def generation_batch(self) -> int:
        """Seeds per ``generate`` call (a subclass may set a class attribute or a property)."""
        return 8
    # True when the method makes scene variants rather than completions (e.g. RealFill with a
    # blank canvas): nothing can be scored against the ground truth, so the runner refuses metrics
    generation_only: bool = False
    progress: bool = True  # set by the runner: False silences the method's own progress bars

    def check_scenes(self, scene_ids: list[str]) -> None:
        """Fail before any work if the method cannot run these scenes."""

    def check_inputs(self, scenes: Sequence[Scene], counts: dict[str, int]) -> None:
        """Validate every input the run will read (e.g. external images) before anything is written."""

    def changed_input(self, scene: Scene, index: int, recorded_info: dict[str, Any]) -> str | None:
        """What changed in sample ``index``'s inputs since its record was made (None: nothing)."""
        return None

    def sample_count(self, scene: Scene, requested: int | None, default: int = 1) -> int:
        """Samples for a scene: as asked, else the benchmark's count (``default``) if stochastic, else 1."""
        if requested is not None:
            return requested
        return default if self.info.stochastic else 1

    def seed_for(self, base_seed: int, index: int) -> int:
        """Seed of sample ``index``: ``base_seed + index``, recorded with the sample."""
        return base_seed + index

    def prepare(self, scene: Scene, workdir: Path) -> None:
        """Per-scene fitting; the default has nothing to fit."""

    def generate(self, scene: Scene, seeds: Sequence[int]) -> list[Output]:
        raise NotImplementedError

    def prefetch(self, scene: Scene, seeds: Sequence[int]) -> None:
        """A hint that ``generate(scene, seeds)`` comes next: a method that reads its outputs
        (``folder:PATH``) starts reading them while the current ones are scored."""

    def release(self) -> None:
        """Free per-scene state (GPU memory) after a scene is done."""
