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
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from realbench.core import jsonio
from realbench.core.errors import RealBenchError
from realbench.core.files import atomic_write_bytes
from realbench.core.imageio import write_png
from realbench.core.paths import inside
from realbench.core.scene import Scene
from realbench.data.benchmarks import get_definition
from realbench.metrics import METRICS

from .records import RECORDS as RECORDS_FILE
from .records import Record, RecordRules, RecordStore, finite_metrics, read_records
from .runlock import LOCK, RunLock
from .runmeta import RunMeta


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

    def image_path(self, record: Record) -> Path:
        """A record's image, which must lie inside the run folder (records are data too)."""
        return inside(self.path, record.image, "record image")

    def store(self) -> RecordStore:
        """The records file; what it loads is checked against run.json (read when loading)."""
        return RecordStore(self.path, lambda: RecordRules.of(self.read_meta()) if self.exists() else RecordRules())

    def records(self, meta: RunMeta | None = None) -> list[Record]:
        """Every complete record, each checked against run.json (``meta``, else read here): a
        record of another scene, configuration or method, or out of its metric's range, is refused."""
        if meta is None and self.exists():
            meta = self.read_meta()
        return read_records(self.records_path, RecordRules.of(meta) if meta is not None else None)

    def lock(self) -> RunLock:
        return RunLock(self.path)

    # ------------------------------------------------------------------ run.json
    def exists(self) -> bool:
        return self.meta_path.is_file()

    def read_meta(self) -> RunMeta:
        """The typed run.json (older versions' files completed on read, see ``upgrade_meta``)."""
        if not self.meta_path.is_file():
            raise RealBenchError("not a realbench run folder (no run.json)", path=str(self.path))
        raw = jsonio.read_json(self.meta_path, "run.json", allow_nan=True)  # older versions wrote Infinity
        if not isinstance(raw, dict) or "method" not in raw or "config_hash" not in raw:
            raise RealBenchError("run.json is not a realbench run description", path=str(self.meta_path))
        return upgrade_meta(RunMeta.from_json(upgrade_meta_fields(raw), str(self.meta_path)), self)

    def write_meta(self, meta: RunMeta) -> None:
        text = jsonio.dumps(meta.to_json(), indent=2, sort_keys=True) + "\n"
        atomic_write_bytes(self.meta_path, text.encode())

    def joined(self, meta: RunMeta) -> RunMeta:
        """What run.json will say once ``meta`` runs here (the folder is not touched): ``meta`` for
        a new folder, the union for the same run, one error for a folder holding something else."""
        if self.exists():
            return self.read_meta().join(meta, str(self.path))
        if self.path.is_dir() and any(not _leftover(p.name) for p in self.path.iterdir()):
            raise RealBenchError("output folder exists, is not empty and is not a realbench run", path=str(self.path))
        return meta

    def open(self, meta: RunMeta) -> tuple[RunMeta, RunMeta | None]:
        """Under the lock: join ``meta`` with what the folder holds and record run.json; returns
        the meta recorded and the previous one."""
        old = self.read_meta() if self.exists() else None
        joined = self.joined(meta)
        for stale in self.path.rglob(".*.tmp"):  # temp files of a killed run's atomic writes (none is live)
            stale.unlink(missing_ok=True)
        self.write_meta(joined)
        return joined, old

    def undo_start(self, created: bool, had_meta: bool) -> bool:
        """Remove what a run that failed before producing anything wrote here: the whole folder if
        this run created it, else its run.json, lock and empty folders. Nothing is removed once a
        record or a method's fitted state exists (the rerun resumes from them). True if undone."""
        if self.records_path.exists() or (self.work_dir.is_dir() and any(self.work_dir.iterdir())):
            return False
        if created:
            shutil.rmtree(self.path, ignore_errors=True)
            return True
        if not had_meta:
            self.meta_path.unlink(missing_ok=True)
        (self.path / LOCK).unlink(missing_ok=True)
        for empty in (self.path / "images", self.work_dir):
            if empty.is_dir() and not any(empty.rglob("*")):
                shutil.rmtree(empty, ignore_errors=True)
        return True


def upgrade_meta_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """A ``run.json`` written by an older realbench, completed with what newer ones record: runs
    made before benchmark definitions were RealBench runs; runs made before metric metadata was
    recorded get the registry's."""
    meta = dict(meta)
    if not isinstance(meta.get("benchmark"), dict):
        meta["benchmark"] = get_definition().as_dict()
    info = dict(meta["metric_info"]) if isinstance(meta.get("metric_info"), dict) else {}
    metrics = meta.get("metrics")
    for name in metrics if isinstance(metrics, list) else []:
        if isinstance(name, str) and name not in info and name in METRICS:
            info[name] = METRICS.get(name).info.as_dict()
    meta["metric_info"] = info
    return meta


def upgrade_meta(meta: RunMeta, folder: RunFolder) -> RunMeta:
    """Runs made before run.json named every scene's content take it from their records."""
    if meta.data.scene_checksums and meta.scenes:
        return meta
    records = read_records(folder.records_path, RecordRules(meta.method, meta.config_hash))
    checksums = {r.scene: r.scene_checksum for r in records}
    key = meta.scene_key()
    scenes = sorted(set(meta.scenes) | set(checksums), key=key)
    data = replace(meta.data, scene_checksums={s: checksums.get(s, "") for s in scenes},
                   all_scenes=meta.data.all_scenes or scenes)
    return replace(meta, scenes=scenes, data=data)


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
        new = [r for r in results if "rescore" not in r]
        written = dict(zip((r["sample"] for r in new), self._io.map(lambda r: self._write_image(scene, r), new)))
        records = []
        for result in results:
            if "rescore" in result:
                record: Record = result["rescore"]
                protocols = {n: self.context["protocols"][n] for n in result["metrics"]}
                records.append(record.with_scores(result["metrics"], protocols, result.get("correspondences"),
                                                  ranked="correspondences" in result))
            else:
                records.append(self._new_record(scene, result, *written[result["sample"]]))
        self.store.append(records)
        self.bar.update(len(results))

    def _new_record(self, scene: Scene, result: dict[str, Any], rel: str, digest: str) -> Record:
        ctx = self.context
        values, errors = finite_metrics({**result["metrics"], **{n: None for n in ctx["unavailable"]}})
        return Record(
            method=ctx["method"], scene=scene.id, sample=result["sample"], seed=result["seed"], task=scene.task,
            config_hash=ctx["chash"], scene_checksum=scene.checksum, image=rel, image_sha256=digest,
            metrics=values, metric_protocols=dict(ctx["protocols"]), metric_errors=errors,
            info=jsonio.finite_or_none(result["info"]), seconds=result["seconds"],
            correspondences=result.get("correspondences"), time=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            versions=ctx["provenance"]["versions"], git=ctx["provenance"]["git"])
