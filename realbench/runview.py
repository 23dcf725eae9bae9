"""What a run recorded, read once for summarising: ``run.json``, the latest record per sample,
and the run's identity (label, method, config, data name and checksum).

The data checksum is computed from the records themselves (each holds its scene's content
checksum), so two runs compare equal only if they scored the same scenes with the same content,
whatever their folders or specs say. Tables refuse to rank runs on different data unless asked.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import RealBenchError
from .records import protocol_version, read_records
from .scene import natural_key

RECORD_COLUMNS = ("method", "scene", "task", "sample", "seed", "config_hash", "image", "correspondences")


def run_path(run: Any) -> Path:
    """A run folder from a path, a ``RunResult`` or a ``RunView``."""
    for attr in ("run_dir", "path"):
        if hasattr(run, attr) and not isinstance(run, (str, Path)):
            return Path(getattr(run, attr))
    return Path(run)


def load_meta(run_dir: str | Path) -> dict[str, Any]:
    path = run_path(run_dir) / "run.json"
    if not path.is_file():
        raise RealBenchError("not a realbench run folder (no run.json)", path=str(run_dir))
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise RealBenchError("run.json is corrupt", path=str(path)) from None
    if not isinstance(meta, dict) or "method" not in meta or "config_hash" not in meta:
        raise RealBenchError("run.json is not a realbench run description", path=str(path))
    return meta


def latest_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """The last record of each (method, scene, sample), in natural scene order."""
    latest: dict[tuple, dict] = {}
    for record in read_records(run_path(run_dir) / "records.jsonl"):
        if isinstance(record, dict) and "scene" in record and "sample" in record:
            latest[(record.get("method"), record["scene"], record["sample"])] = record
    return sorted(latest.values(), key=lambda r: (str(r.get("method")), natural_key(str(r["scene"])), r["sample"]))


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
    pairs = sorted({(str(r["scene"]), str(r.get("scene_checksum"))) for r in records})
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:12]


@dataclass
class RunView:
    path: Path
    meta: dict[str, Any]
    raw: list[dict[str, Any]]
    records: pd.DataFrame
    label: str = ""
    _versions: dict[str, int] | None = field(default=None, repr=False)

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
        return sorted({str(r["scene"]) for r in self.raw}, key=natural_key)

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
                        "`realbench evaluate` on it (same --out) to rescore them under one version", path=str(self.path))
            self._versions = {name: min(versions) for name, versions in seen.items()}
        return self._versions


def read_run(run: Any) -> RunView:
    if isinstance(run, RunView):
        return run
    path = run_path(run)
    meta = load_meta(path)
    raw = latest_records(path)
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
