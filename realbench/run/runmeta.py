"""``run.json`` as a typed, versioned object: what a run is, with one reader and one writer.

A run's identity is its method and method config (the config hash, which covers the seed and the
reference limit), the data's content (a checksum per scene), its scene set, its shard and its
metric protocols. ``RunMeta.join`` is the one rule for a command aimed at a folder that already
holds a run: the same identity on a subset of the folder's scenes, or an extension by more scenes,
samples or metrics, is accepted and never narrows what the folder says it holds; anything else is
refused with one line saying what differs and what to do.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

from realbench.core.errors import RealBenchError
from realbench.core.fields import FieldReader, brief, is_number
from realbench.core.paths import check_name, printable
from realbench.core.scene import ID_ORDERS, TASKS, scene_sort_key, scenes_checksum
from realbench.core.settings import flatten

from .runconfig import MAX_SAMPLES

SCHEMA = 2  # 1: run.json before typing (no schema field)
_SHARD = re.compile(r"([1-9]\d*)/([1-9]\d*)")


@dataclass(frozen=True)
class DataInfo:
    """Which data a run covers: its source and the content checksum of every scene."""

    name: str
    spec: str
    kind: str
    ground_truth: bool
    scene_checksums: dict[str, str]  # scene id -> content checksum (Scene.checksum)
    all_scenes: list[str]  # the data's scenes before sharding (what merging must cover)
    split: str | None = None  # the benchmark split the scenes were selected by, if any
    note: str = ""
    all_checksum: str = ""  # the content checksum of all_scenes: the shards of one run share it
    tasks: dict[str, str] = field(default_factory=dict)  # scene id -> its task (older runs: not recorded)

    @property
    def checksum(self) -> str:
        """The identity of the scene set's content (ids and pixels), whatever the data is called."""
        return scenes_checksum(self.scene_checksums.items())

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "spec": self.spec, "kind": self.kind, "ground_truth": self.ground_truth,
               "checksum": self.checksum, "scene_checksums": self.scene_checksums, "all_scenes": self.all_scenes,
               "split": self.split, "all_checksum": self.all_checksum}
        return {**out, **({"note": self.note} if self.note else {}), **({"tasks": self.tasks} if self.tasks else {})}

    @classmethod
    def from_json(cls, obj: Any, path: str | None) -> DataInfo:
        r = FieldReader(obj, "run.json field 'data'", path)
        checksums = r.text_mapping("scene_checksums", {})
        for scene_id in checksums:
            check_name(scene_id, "run.json: scene id", path=path)
        return cls(name=r.text("name", "?"), spec=r.text("spec", ""), kind=r.text("kind", "folder"),
                   ground_truth=r.boolean("ground_truth", True), scene_checksums=checksums,
                   all_scenes=r.texts("all_scenes", []) or [], split=r.text("split", None), note=r.text("note", ""),
                   all_checksum=r.text("all_checksum", ""), tasks=_tasks(r))


def _tasks(r: FieldReader) -> dict[str, str]:
    tasks = r.text_mapping("tasks", {})
    for scene_id, task in tasks.items():
        if task not in TASKS:
            r.fail(f"field 'tasks.{printable(scene_id)}' must be one of {', '.join(TASKS)}, got {brief(task)}")
    return tasks


def parse_shard_text(value: Any, path: str | None) -> tuple[int, int] | None:
    """``"I/N"`` (1-based, I <= N) as a pair; None for an unsharded run."""
    if value is None:
        return None
    match = _SHARD.fullmatch(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) > int(match.group(2)):
        raise RealBenchError(f"run.json: field 'shard' must be I/N (e.g. 2/4) or null, got {brief(value)}", path=path)
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class RunMeta:
    """Everything ``run.json`` says: identity, data, metrics and their protocols, provenance."""

    label: str
    method: str
    config_hash: str
    config: dict[str, Any]
    method_info: dict[str, Any]
    seed: int
    max_refs: int | None
    benchmark: dict[str, Any]  # BenchmarkDefinition.as_dict(): splits, id order, reported rows
    data: DataInfo
    scenes: list[str]
    shard: tuple[int, int] | None = None
    metrics: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    metric_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    metric_protocols: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] | None = None
    executor: str = "local"
    device: str | None = None
    device_class: str = "cpu"
    created: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    git: str | None = None
    merged_from: list[str] | None = None
    partial: list[str] | None = None  # what a --partial merge left out
    samples: dict[str, int] | None = None  # samples asked for per scene (older runs: not recorded)
    schema: int = SCHEMA

    # ------------------------------------------------------------------ views
    @property
    def shard_text(self) -> str | None:
        return f"{self.shard[0]}/{self.shard[1]}" if self.shard else None

    @property
    def benchmark_name(self) -> str:
        return str(self.benchmark.get("name", "?"))

    def scene_key(self):
        return scene_sort_key(str(self.benchmark.get("id_order", "natural")))

    def __getitem__(self, key: str) -> Any:
        """Deprecated dict-style access (``meta["label"]``), for code written before run.json was typed."""
        warnings.warn("run.json is typed now: use meta.label, not meta['label']", DeprecationWarning, stacklevel=2)
        return self.to_json()[key]

    def get(self, key: str, default: Any = None) -> Any:
        warnings.warn("run.json is typed now: use its attributes, not .get()", DeprecationWarning, stacklevel=2)
        return self.to_json().get(key, default)

    # ------------------------------------------------------------------ the one writer
    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema, "label": self.label, "method": self.method, "config_hash": self.config_hash,
            "config": self.config, "method_info": self.method_info, "seed": self.seed, "max_refs": self.max_refs,
            "benchmark": self.benchmark, "data": self.data.to_json(), "scenes": self.scenes,
            "shard": self.shard_text, "metrics": self.metrics, "unavailable": self.unavailable,
            "metric_info": {k: _finite_info(v) for k, v in self.metric_info.items()},
            "metric_protocols": self.metric_protocols, "selection": self.selection, "executor": self.executor,
            "device": self.device, "device_class": self.device_class, "created": self.created,
            "versions": self.versions, "git": self.git, "merged_from": self.merged_from, "partial": self.partial,
            **({"samples": self.samples} if self.samples is not None else {}),
        }

    # ------------------------------------------------------------------ the one reader
    @classmethod
    def from_json(cls, obj: Any, path: str | None) -> RunMeta:
        r = FieldReader(obj, "run.json", path)
        schema = r.integer("schema", 1, minimum=1)
        if schema > SCHEMA:
            r.fail(f"schema {schema} is newer than this realbench understands ({SCHEMA}); upgrade realbench")
        metrics = r.texts("metrics", [])
        return cls(
            label=r.text("label", None) or r.text("method"), method=r.text("method"),
            config_hash=r.text("config_hash"), config=r.mapping("config", {}) or {},
            method_info=r.mapping("method_info", {}) or {}, seed=r.integer("seed", 0),
            max_refs=r.integer("max_refs", None, minimum=1), benchmark=_benchmark(r),
            data=DataInfo.from_json(r.mapping("data"), path), scenes=r.texts("scenes", []) or [],
            shard=parse_shard_text(r.obj.get("shard"), path), metrics=metrics or [],
            unavailable=r.text_mapping("unavailable", {}), metric_info=_metric_info(r),
            metric_protocols=r.mapping("metric_protocols", {}) or {}, selection=r.mapping("selection", None),
            executor=r.text("executor", "local"), device=r.text("device", None),
            device_class=r.text("device_class", "cpu"), created=r.text("created", ""),
            versions=r.text_mapping("versions", {}), git=r.text("git", None),
            merged_from=r.texts("merged_from", None), partial=r.texts("partial", None),
            samples=r.count_mapping("samples", None, maximum=MAX_SAMPLES), schema=SCHEMA)

    # ------------------------------------------------------------------ identity
    def join(self, new: RunMeta, where: str) -> RunMeta:
        """What the folder holds after ``new`` runs into it (this run.json): refused with one line
        naming what differs when the identities differ; otherwise the union, never narrower."""
        problem = self.identity_difference(new)
        if not problem and new.label != self.label:
            problem = (f"run '{printable(self.label)}', and --label '{printable(new.label)}' would rename it (a "
                       "label names a folder's run for good)")
        if problem:
            raise RealBenchError(f"the folder holds another run: {problem}. Leave --out out (every variant gets its "
                                 "own folder) or give another --out", path=where)
        checksums = {**self.data.scene_checksums, **new.data.scene_checksums}
        key = self.scene_key()
        scenes = sorted({*self.scenes, *new.scenes}, key=key)
        data = replace(self.data, scene_checksums={s: checksums[s] for s in scenes},
                       all_scenes=sorted({*self.data.all_scenes, *new.data.all_scenes}, key=key),
                       split=self.data.split if self.data.split == new.data.split else None,
                       note=new.data.note,  # where this run's data came from now (a zip, say), not before
                       tasks={**self.data.tasks, **new.data.tasks})
        protocols = {**self.metric_protocols, **new.metric_protocols}
        unavailable = {k: v for k, v in {**self.unavailable, **new.unavailable}.items()
                       if k not in new.metric_protocols or k in new.unavailable}
        return replace(new, scenes=scenes, data=data, shard=self.shard, created=self.created or new.created,
                       metrics=list(dict.fromkeys([*self.metrics, *new.metrics])), unavailable=unavailable,
                       metric_info={**self.metric_info, **new.metric_info}, metric_protocols=protocols,
                       selection=new.selection if new.selection is not None else self.selection,
                       label=self.label,
                       merged_from=self.merged_from, partial=self.partial,
                       samples=most_samples(self.samples, new.samples))

    def identity_difference(self, new: RunMeta) -> str | None:
        """Why ``new`` is not this run (or a subset or extension of it), or None."""
        if new.method != self.method:
            return f"method '{printable(self.method)}', this run: '{printable(new.method)}'"
        if new.config_hash != self.config_hash:
            return (f"another configuration: config {self.config_hash} ({config_difference(self, new)}), this "
                    f"run: {new.config_hash}")
        if new.benchmark_name != self.benchmark_name:
            return f"benchmark '{self.benchmark_name}', this run: '{new.benchmark_name}'"
        if self.shard is not None and new.shard != self.shard:
            this = f"shard {new.shard_text}" if new.shard else "unsharded (all its scenes)"
            return f"shard {self.shard_text}, this run: {this}"
        changed = [s for s in new.scenes if s in self.data.scene_checksums
                   and self.data.scene_checksums[s] != new.data.scene_checksums.get(s)]
        if changed:
            s = changed[0]
            return (f"scene '{printable(s)}' with content {self.data.scene_checksums[s]}, this run's has "
                    f"{new.data.scene_checksums.get(s)} ({len(changed)} scene(s) differ)")
        common = set(new.scenes) & set(self.data.scene_checksums)
        if not common and new.data.name != self.data.name:
            return f"data '{printable(self.data.name)}', this run: '{printable(new.data.name)}' (no scene in common)"
        return None


def config_difference(old: RunMeta, new: RunMeta) -> str:
    """The settings two runs differ in, e.g. ``radius 5 -> 3, seed 0 -> 5``."""
    a, b = flatten(old.config), flatten(new.config)
    parts = [f"{k} {brief(a.get(k))} -> {brief(b.get(k))}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if old.seed != new.seed:
        parts.append(f"seed {old.seed} -> {new.seed}")
    if old.max_refs != new.max_refs:
        parts.append(f"max_refs {old.max_refs} -> {new.max_refs}")
    if old.method_info.get("version") != new.method_info.get("version"):
        parts.append(f"method version {old.method_info.get('version')} -> {new.method_info.get('version')}")
    return ", ".join(parts[:6]) + (", ..." if len(parts) > 6 else "") if parts else "settings differ"


def _finite_info(info: dict[str, Any]) -> dict[str, Any]:
    """Metric metadata for strict JSON: an unbounded range end is written as null."""
    out = dict(info)
    if "range" in out:
        out["range"] = [v if isinstance(v, (int, float)) and math.isfinite(v) else None for v in out["range"]]
    return out


def _benchmark(r: FieldReader) -> dict[str, Any]:
    value = r.mapping("benchmark", None)
    if value is None:
        return {}
    sub = FieldReader(value, "run.json field 'benchmark'", r.path)
    sub.text("name", "?")
    sub.texts("splits", ["all"])
    if sub.text("id_order", "natural") not in ID_ORDERS:
        sub.fail(f"field 'id_order' must be one of {', '.join(ID_ORDERS)}, got {brief(value.get('id_order'))}")
    for layout, files in (sub.mapping("reported", {}) or {}).items():
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            sub.fail(f"field 'reported.{printable(layout)}' must be a list of file names, got {brief(files)}")
        for name in files:
            check_name(name, f"run.json: reported file of '{printable(layout)}'", path=r.path)
    return value


def _metric_info(r: FieldReader) -> dict[str, dict[str, Any]]:
    infos = r.mapping_of_mappings("metric_info", {})
    out = {}
    for name, info in infos.items():
        sub = FieldReader(info, f"run.json field 'metric_info.{printable(name)}'", r.path)
        sub.boolean("higher_is_better")
        for key in ("default_atol", "gpu_atol"):
            sub.number(key, None)
        bounds = info.get("range") or [None, None]
        if not isinstance(bounds, (list, tuple)) or len(bounds) != 2 or not all(
                b is None or is_number(b) for b in bounds):
            sub.fail(f"field 'range' must be two numbers (null: unbounded), got {brief(bounds)}")
        low, high = bounds
        info = dict(info, range=(-math.inf if low is None else float(low), math.inf if high is None else float(high)))
        out[name] = info
    return out


def most_samples(*counts: dict[str, int] | None) -> dict[str, int] | None:
    """Per scene the most samples any part asked for (None when none recorded its counts)."""
    known = [c for c in counts if c is not None]
    if len(known) < len(counts):  # a part that did not record its counts: no bound can be stated
        return None
    out: dict[str, int] = {}
    for part in known:
        for scene, n in part.items():
            out[scene] = max(n, out.get(scene, 0))
    return out
