"""What a run recorded, read once for summarising: ``run.json``, the latest record per sample,
and the run's identity (label, method, config, data name and checksum).

The data checksum is computed from the records themselves (each holds its scene's content
checksum), so two runs compare equal only if they scored the same scenes with the same content,
whatever their folders or specs say. Tables refuse to rank runs on different data unless asked.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import RealBenchError
from .records import protocol_version
from .runfolder import RunFolder, scene_order
from .scene import natural_key, scenes_checksum

RECORD_COLUMNS = ("method", "scene", "task", "sample", "seed", "config_hash", "image", "correspondences")


def run_path(run: Any) -> Path:
    """A run folder from a path, a ``RunResult`` or a ``RunView``."""
    for attr in ("run_dir", "path"):
        if hasattr(run, attr) and not isinstance(run, (str, Path)):
            return Path(getattr(run, attr))
    return Path(run)


def load_meta(run_dir: str | Path) -> dict[str, Any]:
    return RunFolder(run_path(run_dir)).read_meta()


def latest_records(run_dir: str | Path, scene_key=natural_key) -> list[dict[str, Any]]:
    """The last record of each (method, scene, sample), scenes in the order ``scene_key`` gives."""
    latest: dict[tuple, dict] = {}
    for record in RunFolder(run_path(run_dir)).records():
        latest[(record.get("method"), record["scene"], record["sample"])] = record
    return sorted(latest.values(), key=lambda r: (str(r.get("method")), scene_key(str(r["scene"])), r["sample"]))


def records_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per sample: identity columns, ``fallback`` (what a method fell back to, if it did)
    and one column per metric (NaN where there is no value)."""
    rows = []
    for record in records:
        row = {k: record.get(k) for k in RECORD_COLUMNS}
        row["fallback"] = (record.get("info") or {}).get("fallback")
        for name, value in (record.get("metrics") or {}).items():
            row[name] = np.nan if value is None else float(value)
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=[*RECORD_COLUMNS, "fallback"])
    return pd.DataFrame(rows)


def data_checksum(records: Iterable[dict[str, Any]]) -> str:
    """Hash of the (scene id, scene content checksum) pairs a run scored."""
    return scenes_checksum((r["scene"], r.get("scene_checksum")) for r in records)


@dataclass
class RunView:
    path: Path
    meta: dict[str, Any]
    raw: list[dict[str, Any]]
    records: pd.DataFrame
    label: str = ""
    _versions: dict[str, int] | None = field(default=None, repr=False)

    @property
    def benchmark(self) -> str:
        """The benchmark definition the run followed (``run.json``'s ``benchmark``)."""
        return str(self.meta["benchmark"].get("name", "?"))

    @property
    def sort_key(self):
        """How the run's benchmark orders scene ids (recorded), for every table and page."""
        return scene_order(self.meta)

    @property
    def splits(self) -> list[str]:
        """The rows of every table: ``all`` and the benchmark's task splits, as the run recorded them."""
        return list(self.meta["benchmark"].get("splits") or ["all"])

    def reported(self, layout: str) -> list[str]:
        """The files of numbers the paper reported for a table layout (``table1``), as recorded."""
        return list((self.meta["benchmark"].get("reported") or {}).get(layout, []))

    def metric_info(self, name: str) -> dict[str, Any] | None:
        """A metric's metadata (direction, tolerances) as the run recorded it, if it did."""
        return (self.meta.get("metric_info") or {}).get(name)

    @property
    def method(self) -> str:
        return self.meta["method"]

    @property
    def config_hash(self) -> str:
        return self.meta["config_hash"]

    @property
    def metrics(self) -> list[str]:
        """Metrics the run was asked for (scored or recorded as unavailable)."""
        return list(self.meta.get("metrics", []))

    @property
    def unavailable(self) -> dict[str, str]:
        return dict(self.meta.get("unavailable") or {})

    @property
    def data_name(self) -> str:
        return str((self.meta.get("data") or {}).get("name", "?"))

    @property
    def checksum(self) -> str:
        return data_checksum(self.raw)

    @property
    def data(self) -> str:
        """``name@checksum`` of the scenes this run scored."""
        return f"{self.data_name}@{self.checksum[:8]}"

    @property
    def device_class(self) -> str:
        """``gpu`` if the run (its method or its metrics) computed on an accelerator, else ``cpu``."""
        recorded = self.meta.get("device_class")
        if recorded:
            return recorded
        used = {str((r.get("info") or {}).get("device", "")) for r in self.raw}
        return "gpu" if any(d.startswith(("cuda", "mps")) for d in used) else "cpu"

    @property
    def scenes(self) -> list[str]:
        return sorted({str(r["scene"]) for r in self.raw}, key=self.sort_key)

    def versions(self) -> dict[str, int]:
        """Per metric, the protocol version of the recorded values; a run holding two versions of
        one metric is refused (its values would average two different computations)."""
        if self._versions is None:
            seen: dict[str, set[int]] = {}
            for record in self.raw:
                for name, value in (record.get("metrics") or {}).items():
                    if value is not None:
                        protocol = (record.get("metric_protocols") or {}).get(name)
                        seen.setdefault(name, set()).add(protocol_version(protocol))
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
    raise RealBenchError(f"none of the runs recorded metric '{name}'",
                         path=", ".join(str(v.path) for v in views))


def read_run(run: Any) -> RunView:
    if isinstance(run, RunView):
        return run
    path = run_path(run)
    meta = load_meta(path)
    raw = latest_records(path, scene_order(meta))
    return RunView(path, meta, raw, records_frame(raw), str(meta.get("label") or meta["method"]))


def read_runs(runs: Sequence[Any], allow_mixed_data: bool = False) -> list[RunView]:
    """Runs with unique labels (a repeated label gains ``@config``, then the folder name), all on
    the same data unless ``allow_mixed_data``."""
    if isinstance(runs, (str, Path)) or hasattr(runs, "run_dir"):
        runs = [runs]
    if not runs:
        raise RealBenchError("give at least one run folder")
    views = [read_run(run) for run in runs]
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


def check_same_data(views: Sequence[RunView]) -> None:
    datas = {v.data for v in views if v.raw}
    if len(datas) > 1:
        listing = "; ".join(f"{v.label}: {v.data} ({len(v.scenes)} scenes)" for v in views)
        raise RealBenchError(f"the runs were scored on different data or scene sets ({listing}); their numbers "
                             "are not comparable. Pass --allow-mixed-data (allow_mixed_data=True) to show them "
                             "together anyway, with the data column")
