"""A run folder and the one place that knows its layout::

    run.json          what the run is (label, method, config and hash, data, protocols, versions)
    records.jsonl     one record per scene and sample, appended crash-safely
    images/<scene>/<sample>.png
    work/<scene>/     what a method fitted for a scene (RealFill's LoRA, checkpoints)
    summary.csv, results.json   written by the summarising layer from the records
    .realbench.lock   held by the one process writing

Writers take the lock; every path derived from data goes through ``inside``.
"""
from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .benchmarks import get_definition
from .errors import RealBenchError
from .imageio import atomic_write_bytes, write_png
from .metrics import METRICS
from .paths import inside
from .records import RECORDS as RECORDS_FILE
from .records import RecordStore, read_records
from .runlock import LOCK, RunLock
from .scene import Scene, scene_sort_key


def _leftover(name: str) -> bool:
    """What a killed run may leave in a fresh folder: its lock and temp files of atomic writes."""
    return name == LOCK or (name.startswith(".") and name.endswith(".tmp"))


class RunFolder:
    META = "run.json"
    RECORDS = RECORDS_FILE  # records.jsonl (RecordStore appends to it)
    SUMMARY = "summary.csv"
    RESULTS = "results.json"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # ------------------------------------------------------------------ layout
    @property
    def meta_path(self) -> Path:
        return self.path / self.META

    @property
    def records_path(self) -> Path:
        return self.path / self.RECORDS

    @property
    def summary_path(self) -> Path:
        return self.path / self.SUMMARY

    def top_summary_path(self, keep: int) -> Path:
        """The summary over the ``keep`` best-ranked samples of each scene."""
        return self.path / f"summary-top{keep}.csv"

    @property
    def results_path(self) -> Path:
        return self.path / self.RESULTS

    @property
    def work_dir(self) -> Path:
        return self.path / "work"

    @staticmethod
    def image_rel(scene_id: str, sample: int) -> str:
        return f"images/{scene_id}/{sample:03d}.png"

    def image_path(self, record: dict[str, Any]) -> Path:
        """A record's image, which must lie inside the run folder (records are data too)."""
        return inside(self.path, str(record.get("image", "")), "record image")

    def store(self) -> RecordStore:
        return RecordStore(self.path)

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.records_path)

    def lock(self) -> RunLock:
        return RunLock(self.path)

    # ------------------------------------------------------------------ run.json
    def exists(self) -> bool:
        return self.meta_path.is_file()

    def read_meta(self) -> dict[str, Any]:
        if not self.meta_path.is_file():
            raise RealBenchError("not a realbench run folder (no run.json)", path=str(self.path))
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise RealBenchError("run.json is corrupt", path=str(self.meta_path)) from None
        if not isinstance(meta, dict) or "method" not in meta or "config_hash" not in meta:
            raise RealBenchError("run.json is not a realbench run description", path=str(self.meta_path))
        return upgrade_meta(meta)

    def write_meta(self, meta: dict[str, Any]) -> None:
        atomic_write_bytes(self.meta_path, (json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n").encode())

    def open(self, meta: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Check (under the lock) that the folder is new or holds the same run configuration on
        the same data; record ``run.json``; returns the meta recorded and the previous one."""
        old = None
        if self.exists():
            old = self.read_meta()
            if old.get("config_hash") != meta["config_hash"]:
                raise RealBenchError(
                    f"output folder holds a run with another configuration (config hash {old.get('config_hash')} "
                    f"!= {meta['config_hash']}); use another --out", path=str(self.path))
            old_data = (old.get("data") or {}).get("name")
            if old_data != meta["data"]["name"]:
                raise RealBenchError(f"output folder holds a run on other data ('{old_data}', this run: "
                                     f"'{meta['data']['name']}'); use another --out", path=str(self.path))
            meta["metrics"] = list(dict.fromkeys([*old.get("metrics", []), *meta["metrics"]]))
            meta["metric_info"] = {**(old.get("metric_info") or {}), **meta["metric_info"]}
            meta["metric_protocols"] = {**(old.get("metric_protocols") or {}), **meta["metric_protocols"]}
            meta["unavailable"] = {k: v for k, v in {**(old.get("unavailable") or {}), **meta["unavailable"]}.items()
                                   if k not in meta["metric_protocols"] or k in meta["unavailable"]}
            if meta["selection"] is None:
                meta["selection"] = old.get("selection")
            meta["created"] = old.get("created", meta["created"])
            meta["data"]["all_scenes"] = sorted({*(old.get("data") or {}).get("all_scenes", []),
                                                 *meta["data"]["all_scenes"]}, key=scene_order(meta))
        elif any(not _leftover(p.name) for p in self.path.iterdir()):
            raise RealBenchError("output folder exists, is not empty and is not a realbench run", path=str(self.path))
        for stale in self.path.rglob(".*.tmp"):  # temp files of a killed run's atomic writes (none is live)
            stale.unlink(missing_ok=True)
        self.write_meta(meta)
        return meta, old


def scene_order(meta: dict[str, Any]):
    """The sort key of scene ids in the run's benchmark (recorded in run.json)."""
    return scene_sort_key((meta.get("benchmark") or {}).get("id_order", "natural"))


def upgrade_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """A ``run.json`` written by an older realbench, completed with what newer ones record, so the
    summarising layer reads everything from the run itself: runs made before benchmark definitions
    were RealBench runs; runs made before metric metadata was recorded get the registry's."""
    if not isinstance(meta.get("benchmark"), dict):
        meta["benchmark"] = get_definition().as_dict()
    info = meta.get("metric_info") if isinstance(meta.get("metric_info"), dict) else {}
    for name in meta.get("metrics") or []:
        if name not in info and name in METRICS:
            info[name] = METRICS.get(name).info.as_dict()
    meta["metric_info"] = info
    return meta


class RecordWriter:
    """Turns worker results into PNGs and records, atomically and in arrival order. Every file
    goes through ``inside``: a symbolic link planted in the run folder is refused.

    A chunk is committed by one background thread while the next chunk is computed: its images
    are written by a small pool (the bytes an image file already had when it needs no new
    encoding), then its records are appended, so a record never names an image not yet on disk.
    Errors surface at the next ``write`` or at ``close``; ``close`` always lets the chunk being
    committed finish, so an interrupted run keeps everything it reported."""

    IO_THREADS = 4

    def __init__(self, folder: RunFolder, context: dict[str, Any], bar):
        self.folder, self.store, self.context, self.bar = folder, folder.store(), context, bar
        self._io = ThreadPoolExecutor(self.IO_THREADS, thread_name_prefix="realbench-io")
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="realbench-commit")
        self._pending: Future | None = None

    def write(self, scene: Scene, results: list[dict[str, Any]]) -> None:
        self._wait()
        self._pending = self._committer.submit(self._commit, scene, results)

    def close(self, raise_errors: bool = True) -> None:
        try:
            if raise_errors:
                self._wait()
            elif self._pending is not None:
                self._pending.exception()  # wait, and leave the error being raised in charge
        finally:
            self._committer.shutdown(wait=True)
            self._io.shutdown(wait=True)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write_image(self, scene: Scene, result: dict[str, Any]) -> tuple[str, str]:
        image = result["image"]
        rel = self.folder.image_rel(scene.id, result["sample"])
        target = inside(self.folder.path, rel, "image")
        if result.get("encoded") is not None:  # already a PNG of exactly these pixels: no re-encoding
            atomic_write_bytes(target, result["encoded"])
        else:
            write_png(target, image)
        return rel, hashlib.sha256(image.tobytes()).hexdigest()[:16]

    def _commit(self, scene: Scene, results: list[dict[str, Any]]) -> None:
        ctx = self.context
        new = [r for r in results if "rescore" not in r]
        written = dict(zip((r["sample"] for r in new), self._io.map(lambda r: self._write_image(scene, r), new)))
        records = []
        for result in results:
            if "rescore" in result:
                record = dict(result["rescore"])
                record["metrics"] = {**record.get("metrics", {}), **result["metrics"]}
                record["metric_protocols"] = {**record.get("metric_protocols", {}),
                                              **{n: ctx["protocols"][n] for n in result["metrics"]}}
                if "correspondences" in result:
                    record["correspondences"] = result["correspondences"]
                records.append(record)
                continue
            rel, digest = written[result["sample"]]
            record = {
                "method": ctx["method"], "scene": scene.id, "task": scene.task, "sample": result["sample"],
                "seed": result["seed"], "config_hash": ctx["chash"], "scene_checksum": scene.checksum,
                "image": rel, "image_sha256": digest,
                "metrics": {**result["metrics"], **{n: None for n in ctx["unavailable"]}},
                "metric_protocols": dict(ctx["protocols"]),
                "info": result["info"], "seconds": result["seconds"],
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **ctx["provenance"],
            }
            if "correspondences" in result:
                record["correspondences"] = result["correspondences"]
            records.append(record)
        self.store.append(records)
        self.bar.update(len(results))
