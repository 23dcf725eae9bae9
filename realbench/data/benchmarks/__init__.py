"""Benchmark definitions: a benchmark's protocol in one registered object, in the spirit of
lm-evaluation-harness's ``Task`` and HELM's ``Scenario``.

A definition says how its scenes are found in a download (the folder name), whether they have
ground truth, how many references a scene may have, how many samples a stochastic method draws
per scene, the splits tables report, the named metric sets (``--metrics table1``) and the
numbers the paper reported. The core (scenes, images, runs, tables) knows none of these facts:
it asks the definition. A new benchmark is one file here that registers itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from realbench.core.registry import Registry
from realbench.core.scene import scene_sort_key

BENCHMARKS = Registry("benchmark", package="realbench.data.benchmarks")
DEFAULT = "realbench"


@dataclass(frozen=True)
class SceneLayout:
    """Where a scene's files are, relative to its folder. Image files are named by their stem
    (``target/target`` is ``target/target.png``, ``.jpg`` or ``.jpeg``); hidden files, macOS
    metadata and names matching ``ignore`` are never images of the scene."""

    refs: str = "ref"  # the folder of reference photos
    target: str = "target/target"
    mask: str = "target/mask"
    gt: str = "target/gt"
    ignore: tuple[str, ...] = ()  # glob patterns of file names in the references folder to skip

    def is_scene(self, folder: Path) -> bool:
        """Whether ``folder`` looks like a scene of this layout (its references folder, or the
        folder its target lives in, is there)."""
        target_home = folder / PurePosixPath(self.target).parent
        return (folder / self.refs).is_dir() or (target_home != folder and target_home.is_dir())

    def describe(self) -> str:
        return f"<scene>/{self.refs}/*, <scene>/{self.target}.png, <scene>/{self.mask}.png, <scene>/{self.gt}.png"


RELEASE_LAYOUT = SceneLayout()  # RealFill's release: <id>/ref/*, <id>/target/{target,mask,gt}.png


@dataclass(frozen=True)
class BenchmarkDefinition:
    name: str
    description: str
    folder: str | None = None  # the folder that holds its scenes in a download ("RealBench")
    has_ground_truth: bool = True
    max_refs: int | None = None  # more references than this is unusual (a warning, not an error)
    samples_per_scene: int = 1  # what a stochastic method draws per scene unless told otherwise
    splits: tuple[str, ...] = ("all",)  # "all" plus task names: the rows of every table
    default_metrics: tuple[str, ...] = ()
    metric_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # --metrics table1
    reported: dict[str, tuple[str, ...]] = field(default_factory=dict)  # results/paper/*.csv per table layout
    id_order: str = "natural"  # how scene ids sort: "natural" (0, 1, 2, ..., 10) or "text"
    scene_count: int | None = None  # scenes of the full benchmark (what reported numbers cover)
    layout: SceneLayout = RELEASE_LAYOUT  # where a scene's references, target, mask and ground truth are

    def sort_key(self, scene_id: str):
        return scene_sort_key(self.id_order)(scene_id)

    def expand_metrics(self, names) -> list[str]:
        """Metric names with the definition's sets (and ``default``, ``none``) expanded, order kept."""
        out: list[str] = []
        for name in names:
            out += list(self.metric_sets.get(name, self.default_metrics if name == "default" else (name,)))
        return [n for n in dict.fromkeys(out) if n != "none"]

    def as_dict(self) -> dict:
        return {"name": self.name, "splits": list(self.splits), "samples_per_scene": self.samples_per_scene,
                "has_ground_truth": self.has_ground_truth, "max_refs": self.max_refs, "id_order": self.id_order,
                "scene_count": self.scene_count, "reported": {k: list(v) for k, v in self.reported.items()}}


def get_definition(name: str | None = None) -> BenchmarkDefinition:
    return BENCHMARKS.get(name or DEFAULT)


def definition_for_folder(folder_name: str) -> BenchmarkDefinition | None:
    """The definition whose scenes live in a folder of that name in the release, if any."""
    for name in BENCHMARKS.names():
        definition = BENCHMARKS.get(name)
        if definition.folder == folder_name:
            return definition
    return None

