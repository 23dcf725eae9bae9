"""Per-sample records in ``records.jsonl``: typed, append-only, crash-safe, last record per key wins.

``Record`` is one line: the one reader (``Record.from_json``) checks every field's type and
refuses non-finite numbers, naming the file and line; the one writer (``Record.to_json``) writes
strict JSON. A run killed at any instant (even mid-line) leaves a file whose complete lines are
all valid records; ``RecordStore`` drops a trailing partial line before appending again. Because
every line is self-contained, a run resumes from its records and shards merge by concatenation.
Reading also checks each record against ``RecordRules`` (what run.json says: method, config,
scenes and their content, metric ranges) and against earlier lines: a later record of a sample may
rescore it, never describe another image, so an edited file is refused at the line that lies.
"""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from realbench.core import jsonio
from realbench.core.errors import RealBenchError
from realbench.core.fields import FieldReader, brief, is_number
from realbench.core.imageio import regular_file
from realbench.core.paths import check_name, printable
from realbench.core.scene import TASKS
from realbench.core.words import count
from realbench.methods import METHODS, Method
from realbench.metrics import METRICS

from .runconfig import MAX_SAMPLES
from .runmeta import RunMeta

RECORDS = "records.jsonl"
RECORD_VERSION = 2  # 1: records before typing (no record_version field)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
MAX_LINE = 4 * 2**20  # one record is a few KB; a longer line is not a record
# No metric value is larger than this (PSNR is capped at 100 dB, similarities lie in [-1, 1]): a
# bigger one is damage, and means, differences and plots of values below it never overflow.
MAX_MAGNITUDE = 1e12
RANGE_SLACK = 1e-6  # a float computation may step this far past a metric's range end (SSIM 1 + 2e-16)


def protocol_version(protocol: dict[str, Any] | str | None) -> int:
    """The version a recorded metric protocol was computed under: records made before versioning
    hold none (the first ones, a hash string instead of the protocol), so version 1."""
    return int(protocol.get("version", 1)) if isinstance(protocol, dict) else 1


@dataclass(frozen=True)
class Record:
    """One scene's one sample: how it was made, where its image is, what it scored."""

    method: str
    scene: str
    sample: int
    seed: int
    task: str
    config_hash: str
    scene_checksum: str
    image: str  # path inside the run folder
    image_sha256: str
    metrics: dict[str, float | None] = field(default_factory=dict)  # None: asked for, not computed
    metric_protocols: dict[str, Any] = field(default_factory=dict)
    metric_errors: dict[str, str] = field(default_factory=dict)  # why a value is None
    info: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    correspondences: int | None = None
    time: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    git: str | None = None
    version: int = RECORD_VERSION

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.method, self.scene, self.sample)

    @property
    def fallback(self) -> str | None:
        value = self.info.get("fallback")
        return str(value) if value else None

    def with_scores(self, metrics: dict[str, float | None], protocols: dict[str, Any],
                    correspondences: int | None = None, ranked: bool = False) -> Record:
        """This record with (re)computed values; non-finite values become None with the reason."""
        values, errors = finite_metrics(metrics)
        kept_errors = {k: v for k, v in self.metric_errors.items() if k not in metrics}
        return replace(self, metrics={**self.metrics, **values},
                       metric_protocols={**self.metric_protocols, **protocols}, metric_errors={**kept_errors, **errors},
                       correspondences=correspondences if ranked else self.correspondences)

    def to_json(self) -> dict[str, Any]:
        out = {"record_version": self.version, "method": self.method, "scene": self.scene, "sample": self.sample,
               "seed": self.seed, "task": self.task, "config_hash": self.config_hash,
               "scene_checksum": self.scene_checksum, "image": self.image, "image_sha256": self.image_sha256,
               "metrics": self.metrics, "metric_protocols": self.metric_protocols, "info": self.info,
               "seconds": self.seconds, "time": self.time, "versions": self.versions, "git": self.git}
        if self.metric_errors:
            out["metric_errors"] = self.metric_errors
        if self.correspondences is not None:
            out["correspondences"] = self.correspondences
        return out

    def __getitem__(self, key: str) -> Any:
        """Deprecated dict-style access (``record["scene"]``), for code written before records were
        typed; use the attributes."""
        warnings.warn("records are typed now: use record.scene, not record['scene']", DeprecationWarning,
                      stacklevel=2)
        return self.to_json()[key]

    def get(self, key: str, default: Any = None) -> Any:
        warnings.warn("records are typed now: use their attributes, not .get()", DeprecationWarning, stacklevel=2)
        return self.to_json().get(key, default)

    def keys(self):
        """Deprecated: ``dict(record)``; use ``record.to_json()``."""
        warnings.warn("records are typed now: use record.to_json(), not dict(record)", DeprecationWarning,
                      stacklevel=2)
        return self.to_json().keys()

    @classmethod
    def from_json(cls, obj: Any, where: str, path: str | None) -> Record:
        """The one reader: every field checked; names from data checked as file names."""
        r = FieldReader(obj, where, path)
        scene = check_name(r.text("scene"), f"{where}: scene id", path=path)
        task = r.text("task")
        if task not in TASKS:
            r.fail(f"field 'task' must be one of {', '.join(TASKS)}, got {brief(task)}")
        record = cls(
            method=r.text("method", ""), scene=scene, sample=r.integer("sample", minimum=0, maximum=MAX_SAMPLES - 1),
            seed=r.integer("seed", 0), task=task, config_hash=r.text("config_hash", ""),
            scene_checksum=r.text("scene_checksum", ""), image=r.text("image"),
            image_sha256=r.text("image_sha256", ""), metrics=_metric_values(r), metric_protocols=_protocols(r),
            metric_errors=r.text_mapping("metric_errors", {}), info=r.mapping("info", {}) or {},
            seconds=_numbers(r, "seconds"), correspondences=r.integer("correspondences", None, minimum=0),
            time=r.text("time", ""), versions=r.text_mapping("versions", {}), git=r.text("git", None),
            version=r.integer("record_version", 1, minimum=1))
        if record.version > RECORD_VERSION:
            r.fail(f"record version {record.version} is newer than this realbench understands ({RECORD_VERSION}); "
                   "upgrade realbench")
        return record


def finite_metrics(values: dict[str, Any]) -> tuple[dict[str, float | None], dict[str, str]]:
    """Metric values as plain floats; NaN, infinities and values outside the metric's range become
    None, with the reason (what the reader would refuse is never written)."""
    out: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            out[name] = None
            continue
        number = float(value)
        problem = "not a finite number" if not math.isfinite(number) else value_problem(
            number, metric_range(name, {}))
        out[name] = None if problem else number
        if problem:
            errors[name] = f"the metric returned {number!r}, which is {problem}"
    return out, errors


def metric_range(name: str, recorded: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """A metric's range: the registry's for a registered metric, else what run.json recorded,
    else unbounded."""
    if name in METRICS:
        low, high = METRICS.get(name).info.range
    else:
        low, high = recorded.get(name, (-math.inf, math.inf))
    return float(low), float(high)


def value_problem(value: float, bounds: tuple[float, float]) -> str | None:
    """Why ``value`` cannot be a value of a metric of range ``bounds``, or None."""
    if abs(value) > MAX_MAGNITUDE:
        return f"beyond {MAX_MAGNITUDE:g} in magnitude, larger than any metric value"
    low, high = bounds
    if value < low - RANGE_SLACK * max(1.0, abs(low)) or value > high + RANGE_SLACK * max(1.0, abs(high)):
        return f"outside the metric's range [{low:g}, {high:g}]"
    return None


def _metric_values(r: FieldReader) -> dict[str, float | None]:
    values = r.mapping("metrics", {}) or {}
    for name, value in values.items():
        if value is not None and (not is_number(value) or not math.isfinite(value)):
            r.fail(f"metric '{printable(name)}' must be a finite number or null, got {brief(value)}")
    return {k: (None if v is None else float(v)) for k, v in values.items()}


def _protocols(r: FieldReader) -> dict[str, Any]:
    protocols = r.mapping("metric_protocols", {}) or {}
    for name, protocol in protocols.items():
        if isinstance(protocol, dict):
            version = protocol.get("version", 1)
            if isinstance(version, bool) or not isinstance(version, int):
                r.fail(f"the protocol version of metric '{printable(name)}' must be a whole number, "
                       f"got {brief(version)}")
        elif not isinstance(protocol, str):  # the first records held a hash string
            r.fail(f"the protocol of metric '{printable(name)}' must be a mapping, got {brief(protocol)}")
    return protocols


def _numbers(r: FieldReader, key: str) -> dict[str, float]:
    values = r.mapping(key, {}) or {}
    for name, value in values.items():
        if not is_number(value) or not math.isfinite(value):
            r.fail(f"field '{key}.{printable(name)}' must be a finite number, got {brief(value)}")
    return {k: float(v) for k, v in values.items()}


@dataclass(frozen=True)
class RecordRules:
    """What run.json says every record of the run agrees with (None: not known, not checked)."""

    method: str | None = None
    config_hash: str | None = None
    scenes: dict[str, str] | None = None  # scene id -> content checksum ("" where not recorded)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # as recorded, per metric
    samples: dict[str, int] | None = None  # samples asked for per scene, where run.json records them
    seed: int | None = None  # sample k's seed is seed + k (methods that keep the default seed rule)
    tasks: dict[str, str] = field(default_factory=dict)  # scene -> task, where run.json records them

    @classmethod
    def of(cls, meta: RunMeta) -> RecordRules:
        scenes = {**{s: "" for s in meta.scenes}, **meta.data.scene_checksums}
        ranges = {name: (float(info["range"][0]), float(info["range"][1])) for name, info in meta.metric_info.items()
                  if isinstance(info.get("range"), (list, tuple)) and len(info["range"]) == 2}
        return cls(meta.method, meta.config_hash, scenes, ranges, meta.samples, _seed_base(meta), meta.data.tasks)


def _seed_base(meta: RunMeta) -> int | None:
    """The run's seed where its method keeps the default rule (sample k: seed + k), else None."""
    try:
        cls = METHODS.get(meta.method) if ":" not in meta.method else None
    except RealBenchError:
        return None
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        return None
    return meta.seed if getattr(cls, "seed_for", None) is Method.seed_for else None


RulesSource = RecordRules | Callable[[], RecordRules] | None


class _Checker:
    """One reading of a records file against its rules: every value in its metric's range, every
    record of the run's method, config and scenes, and a later record of a sample only rescoring
    it (or remaking its lost image), never describing another image."""

    IDENTITY = ("image", "seed", "task", "scene_checksum", "config_hash")

    def __init__(self, rules: RecordRules, path: Path):
        self.rules, self.path = rules, str(path)
        self.ranges: dict[str, tuple[float, float]] = {}
        self.seen: dict[tuple[str, str, int], tuple[int, Record]] = {}
        self.tasks: dict[str, tuple[int, str]] = {}  # scene -> (first line, its task)

    def fail(self, number: int, message: str) -> None:
        raise RealBenchError(f"line {number}: {message}", path=self.path)

    def check(self, record: Record, number: int) -> None:
        self._values(record, number)
        self._run(record, number)
        self._sample(record, number)
        previous = self.seen.get(record.key)
        if previous is not None:
            differ = [k for k in self.IDENTITY if getattr(previous[1], k) != getattr(record, k)]
            if differ:
                self.fail(number, f"scene '{printable(record.scene)}' sample {record.sample} was recorded at line "
                                  f"{previous[0]} with another {', '.join(differ)}: a later record of a sample may "
                                  "only rescore it, so this one contradicts it (the file was edited)")
        self.seen[record.key] = (number, record)

    def _values(self, record: Record, number: int) -> None:
        for name, value in record.metrics.items():
            if value is None:
                continue
            if name not in self.ranges:
                self.ranges[name] = metric_range(name, self.rules.ranges)
            problem = value_problem(value, self.ranges[name])
            if problem:
                self.fail(number, f"metric '{printable(name)}' is {value!r}, {problem}")

    def _sample(self, record: Record, number: int) -> None:
        """One task per scene, each image in its scene's folder, each seed the run's rule."""
        task = self.rules.tasks.get(record.scene)
        if task is not None and record.task != task:
            self.fail(number, f"scene '{printable(record.scene)}' is {record.task} here, {task} in run.json")
        first = self.tasks.setdefault(record.scene, (number, record.task))
        if record.task != first[1]:
            self.fail(number, f"scene '{printable(record.scene)}' is {record.task} here and {first[1]} at line "
                              f"{first[0]}: a scene has one task")
        parts = PurePosixPath(record.image).parts
        if record.image and (record.image.startswith("/") or "\\" in record.image or ".." in parts):
            self.fail(number, f"record image '{printable(record.image)}' is not a plain relative path inside the run")
        if record.image and not record.image.startswith(f"images/{record.scene}/"):
            self.fail(number, f"scene '{printable(record.scene)}' sample {record.sample} names the image "
                              f"'{printable(record.image)}', which is not in the scene's folder images/"
                              f"{printable(record.scene)}/")
        base = self.rules.seed
        if base is not None and record.seed is not None and record.seed != base + record.sample:
            self.fail(number, f"scene '{printable(record.scene)}' sample {record.sample} has seed {record.seed}; "
                              f"the run's seed {base} gives it {base + record.sample}")

    def _run(self, record: Record, number: int) -> None:
        rules = self.rules
        if rules.method is not None and record.method and record.method != rules.method:
            self.fail(number, f"the record is of method '{printable(record.method)}', run.json's is "
                              f"'{printable(rules.method)}'")
        if rules.config_hash is not None and record.config_hash and record.config_hash != rules.config_hash:
            self.fail(number, f"the record's config_hash {printable(record.config_hash)} is not run.json's "
                              f"{printable(rules.config_hash)}: it was made by another configuration")
        if rules.scenes is None:
            return
        if record.scene not in rules.scenes:
            self.fail(number, f"scene '{printable(record.scene)}' is not one of the run's scenes (run.json names "
                              f"{len(rules.scenes)}: {', '.join(printable(s) for s in list(rules.scenes)[:10])})")
        asked = (rules.samples or {}).get(record.scene)
        if asked is not None and record.sample >= asked:
            self.fail(number, f"scene '{printable(record.scene)}' sample {record.sample}: run.json asks for "
                              f"{count(asked, 'sample')} of it (indices 0-{asked - 1})")
        recorded = rules.scenes[record.scene]
        if recorded and record.scene_checksum and record.scene_checksum != recorded:
            self.fail(number, f"scene '{printable(record.scene)}' has content {printable(record.scene_checksum)} "
                              f"here, {recorded} in run.json: the record is of another scene or other data")


class RecordStore:
    def __init__(self, run_dir: Path, rules: RulesSource = None):
        self.path = Path(run_dir) / RECORDS
        self.rules = rules  # checked by load(); a callable is asked when loading (run.json read then)

    def load(self) -> dict[tuple[str, str, int], Record]:
        """All complete records, the last one for each (method, scene, sample) winning."""
        rules = self.rules() if callable(self.rules) else self.rules
        return {record.key: record for record in read_records(self.path, rules)}

    def _open(self, flags: int) -> int:
        """A descriptor of the records file that never follows a symbolic link."""
        try:
            return os.open(self.path, flags | NOFOLLOW, 0o666)
        except OSError as exc:
            if self.path.is_symlink():
                raise RealBenchError("records.jsonl is a symbolic link; refusing to write through it",
                                     path=str(self.path)) from None
            raise RealBenchError(f"cannot write records ({exc.strerror or exc})", path=str(self.path)) from None

    def _repair_tail(self) -> None:
        """Cut a torn last line (a killed write), reading only the file's end."""
        if not self.path.exists() and not self.path.is_symlink():
            return
        fd = self._open(os.O_RDWR)
        with os.fdopen(fd, "rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            position = size
            while position > 0:
                step = min(1 << 16, position)
                handle.seek(position - step)
                block = handle.read(step)
                cut = block.rfind(b"\n")
                if cut >= 0:
                    handle.truncate(position - step + cut + 1)
                    return
                position -= step
            handle.truncate(0)

    def append(self, records: Iterable[Record]) -> None:
        self._repair_tail()
        lines = "".join(jsonio.dumps(r.to_json(), sort_keys=True) + "\n" for r in records)
        fd = self._open(os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())


def read_records(path: Path, rules: RecordRules | None = None) -> list[Record]:
    """Complete lines of a records file; a torn last line (from a kill) is ignored. A complete line
    that is not a valid record, or one contradicting ``rules`` (run.json) or an earlier line, is
    one clear error naming the line."""
    path = Path(path)
    checker = _Checker(rules or RecordRules(), path)
    if not path.exists() and not path.is_symlink():
        return []
    regular_file(path, what="records file")
    records = []
    try:
        with open(path, "rb") as handle:
            number = 0
            while True:
                line = handle.readline(MAX_LINE + 1)
                if not line:
                    break
                number += 1
                if len(line) > MAX_LINE:
                    raise RealBenchError(f"line {number} is longer than {MAX_LINE // 2**20} MiB: not a realbench "
                                         "record", path=str(path))
                if not line.endswith(b"\n"):
                    break  # torn by a kill: the rerun repairs it
                records.append(_parse_line(line, number, path))
                checker.check(records[-1], number)
    except OSError as exc:
        raise RealBenchError(f"cannot read records ({exc.strerror or exc})", path=str(path)) from None
    return records


def read_record_dicts(path: Path, rules: RecordRules | None = None) -> list[dict[str, Any]]:
    """The records as their JSON objects (each validated), e.g. for ``pandas.json_normalize``."""
    return [record.to_json() for record in read_records(path, rules)]


def _parse_line(line: bytes, number: int, path: Path) -> Record:
    try:
        obj = jsonio.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise RealBenchError(f"line {number} is not UTF-8 text", path=str(path)) from None
    except jsonio.DuplicateKey as exc:
        raise RealBenchError(f"line {number}: the key '{printable(exc.key)[:60]}' appears twice in one object, "
                             "so the record says two things", path=str(path)) from None
    except (ValueError, RecursionError):
        raise RealBenchError(f"line {number} is not JSON (a realbench record per line is expected)",
                             path=str(path)) from None
    return Record.from_json(obj, f"line {number}", str(path))
