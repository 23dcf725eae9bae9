"""What a run recorded, read once for summarising: ``run.json``, the latest record per sample,
and the run's identity (label, method, config, data name and checksum).

The data checksum is computed from the records themselves (each holds its scene's content
checksum), so two runs compare equal only if they scored the same scenes with the same content,
whatever their folders or specs say. Tables refuse to rank runs on different data unless asked.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from realbench.core.errors import RealBenchError
from realbench.core.paths import printable
from realbench.core.scene import natural_key, scenes_checksum
from realbench.run.records import Record, protocol_version
from realbench.run.runfolder import RunFolder
from realbench.run.runmeta import RunMeta

RECORD_COLUMNS = ("method", "scene", "task", "sample", "seed", "config_hash", "image", "correspondences")


def run_path(run: Any) -> Path:
    """A run folder from a path, a ``RunResult`` or a ``RunView``."""
    for attr in ("run_dir", "path"):
        if hasattr(run, attr) and not isinstance(run, (str, Path)):
            return Path(getattr(run, attr))
    return Path(run)


def load_meta(run_dir: str | Path) -> RunMeta:
    return RunFolder(run_path(run_dir)).read_meta()


def latest_records(run_dir: str | Path, scene_key=natural_key, meta: RunMeta | None = None) -> list[Record]:
    """The last record of each (method, scene, sample), scenes in the order ``scene_key`` gives;
    every record checked against run.json (``meta``: the run's, when the caller has it)."""
    latest = {record.key: record for record in RunFolder(run_path(run_dir)).records(meta)}
    return sorted(latest.values(), key=lambda r: (r.method, scene_key(r.scene), r.sample))


def records_frame(records: Iterable[Record]) -> pd.DataFrame:
    """One row per sample: identity columns, ``fallback`` (what a method fell back to, if it did)
    and one column per metric (NaN where there is no value)."""
    rows = []
    for record in records:
        row: dict[str, Any] = {k: getattr(record, k) for k in RECORD_COLUMNS}
        row["fallback"] = record.fallback
        row["protocol"] = record.info.get("protocol")
        row.update(_compute(record))
        for name, value in record.metrics.items():
            row[name] = np.nan if value is None else value
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=[*RECORD_COLUMNS, "fallback", "protocol", "fit_seconds", "sample_seconds",
                                     "peak_memory_bytes"])
    return pd.DataFrame(rows)


def _compute(record: Record) -> dict[str, float | None]:
    """What making a sample cost: the scene's fit (a method's recorded ``compute``, else the time its
    prepare took) and this sample's generation, and the accelerator's peak memory if recorded."""
    found = record.info.get("compute")
    compute: dict[str, Any] = found if isinstance(found, dict) else {}

    def number(value: Any) -> float | None:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    fit = number(compute.get("train_seconds"))
    sample = number(compute.get("sample_seconds"))
    return {"fit_seconds": fit if fit is not None else record.seconds.get("prepare"),
            "sample_seconds": sample if sample is not None else record.seconds.get("generate"),
            "peak_memory_bytes": number(compute.get("peak_memory_bytes"))}


def data_checksum(records: Iterable[Record]) -> str:
    """Hash of the (scene id, scene content checksum) pairs a run scored."""
    return scenes_checksum((r.scene, r.scene_checksum) for r in records)


@dataclass
class RunView:
    path: Path
    meta: RunMeta
    raw: list[Record]
    records: pd.DataFrame
    label: str = ""
    _versions: dict[str, int] | None = field(default=None, repr=False)

    @property
    def benchmark(self) -> str:
        """The benchmark definition the run followed (``run.json``'s ``benchmark``)."""
        return self.meta.benchmark_name

    @property
    def sort_key(self):
        """How the run's benchmark orders scene ids (recorded), for every table and page."""
        return self.meta.scene_key()

    @property
    def splits(self) -> list[str]:
        """The rows of every table: ``all`` and the benchmark's task splits, as the run recorded them."""
        return list(self.meta.benchmark.get("splits") or ["all"])

    def reported(self, layout: str) -> list[str]:
        """The files of numbers the paper reported for a table layout (``table1``), as recorded."""
        return list((self.meta.benchmark.get("reported") or {}).get(layout, []))

    def metric_info(self, name: str) -> dict[str, Any] | None:
        """A metric's metadata (direction, tolerances) as the run recorded it, if it did."""
        return self.meta.metric_info.get(name)

    @property
    def method(self) -> str:
        return self.meta.method

    @property
    def config_hash(self) -> str:
        return self.meta.config_hash

    @property
    def metrics(self) -> list[str]:
        """Metrics the run was asked for (scored or recorded as unavailable)."""
        return list(self.meta.metrics)

    @property
    def unavailable(self) -> dict[str, str]:
        return dict(self.meta.unavailable)

    @property
    def data_name(self) -> str:
        return self.meta.data.name

    @functools.cached_property
    def checksum(self) -> str:
        return data_checksum(self.raw)

    @property
    def data(self) -> str:
        """``name@checksum`` of the scenes this run scored."""
        return f"{self.data_name}@{self.checksum[:8]}"

    @property
    def device_class(self) -> str:
        """``gpu``, ``mps`` or ``cpu``: where the run (its method or its metrics) computed."""
        if self.meta.device_class:
            return self.meta.device_class
        used = {str(r.info.get("device", "")) for r in self.raw}
        return "gpu" if any(d.startswith("cuda") for d in used) else "mps" if any(
            d.startswith("mps") for d in used) else "cpu"

    @property
    def partial(self) -> list[str]:
        """What a ``--partial`` merge left out (empty for a complete run)."""
        return list(self.meta.partial or [])

    @property
    def scenes(self) -> list[str]:
        return sorted({r.scene for r in self.raw}, key=self.sort_key)

    def versions(self) -> dict[str, int]:
        """Per metric, the protocol version of the recorded values; a run holding two versions of
        one metric is refused (its values would average two different computations)."""
        if self._versions is None:
            seen: dict[str, set[int]] = {}
            for record in self.raw:
                for name, value in record.metrics.items():
                    if value is not None:
                        seen.setdefault(name, set()).add(protocol_version(record.metric_protocols.get(name)))
            for name, versions in seen.items():
                if len(versions) > 1:
                    raise RealBenchError(
                        f"the run holds '{name}' values of protocol versions {sorted(versions)}; rerun "
                        "`realbench evaluate` on it (same --out) to rescore them under one version",
                        path=str(self.path))
            self._versions = {name: min(versions) for name, versions in seen.items()}
        return self._versions


def metric_info(name: str, views: Sequence[RunView]) -> dict[str, Any]:
    """A metric's metadata as the first of ``views`` that scored it recorded it."""
    for view in views:
        info = view.metric_info(name)
        if info:
            return info
    raise RealBenchError(f"none of the runs recorded metric '{printable(name)}'",
                         path=", ".join(str(v.path) for v in views))


def read_run(run: Any) -> RunView:
    if isinstance(run, RunView):
        return run
    path = run_path(run)
    meta = load_meta(path)
    raw = latest_records(path, meta.scene_key(), meta)
    return RunView(path, meta, raw, records_frame(raw), meta.label or meta.method)


def read_runs(runs: Sequence[Any], allow_mixed_data: bool = False, allow_same: bool = False) -> list[RunView]:
    """Runs with unique labels (a repeated label gains ``@config``, then the folder name), all on
    the same data (by content) unless ``allow_mixed_data``. The same folder twice is refused
    (unless ``allow_same``: a comparison of a run with itself, which keeps its label)."""
    if isinstance(runs, (str, Path)) or hasattr(runs, "run_dir"):
        runs = [runs]
    if not runs:
        raise RealBenchError("give at least one run folder")
    views = [read_run(run) for run in runs]
    paths = [v.path.resolve() for v in views]
    if allow_same and len(set(paths)) == 1:
        return views
    for index, path in enumerate(paths):
        if path in paths[:index]:
            raise RealBenchError("the same run folder is given twice; give each run once", path=str(views[index].path))
    labels = [v.label for v in views]
    for view in views:
        if labels.count(view.label) > 1:
            view.label = f"{view.label}@{view.config_hash[:6]}"
    labels = [v.label for v in views]
    for view in views:
        if labels.count(view.label) > 1:
            view.label = f"{view.label} ({view.path.name})"
    if not allow_mixed_data:
        check_same_data(views)
    return views


def _reference_variants(views: Sequence[RunView]) -> bool:
    """Runs on the same scenes of the same data that differ only in ``--max-refs`` (RealFill's
    Fig. 8): their content checksums differ because the references do, on purpose."""
    scored = [v for v in views if v.raw]
    by_refs: dict[int | None, set[str]] = {}
    for view in scored:
        by_refs.setdefault(view.meta.max_refs, set()).add(view.checksum)
    same_scenes = len({(v.data_name, tuple(v.scenes)) for v in scored}) == 1
    return same_scenes and len(by_refs) > 1 and all(len(c) == 1 for c in by_refs.values())


def check_same_data(views: Sequence[RunView]) -> None:
    """Runs rank together when they scored the same scenes with the same content (the checksum
    covers scene ids and pixels), whatever their data folders are called or came from."""
    checksums = {v.checksum for v in views if v.raw}
    if len(checksums) > 1 and not _reference_variants(views):
        listing = "; ".join(f"{printable(v.label)}: checksum {v.checksum} ({len(v.scenes)} scenes of "
                            f"'{printable(v.data_name)}')" for v in views)
        raise RealBenchError(f"the runs were scored on different data or scene sets ({listing}); their numbers "
                             "are not comparable. Pass --allow-mixed-data (allow_mixed_data=True) to show them "
                             "together anyway, with the data column")
