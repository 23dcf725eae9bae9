"""Per-sample records in ``records.jsonl``: append-only, crash-safe, last record per key wins.

A run killed at any instant (even mid-line) leaves a file whose complete lines are all valid
records; ``RecordStore`` drops a trailing partial line before appending again. Because every
line is self-contained, a run resumes from its records and shards merge by concatenation.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import RealBenchError
from .paths import check_name

RECORDS = "records.jsonl"
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def protocol_version(protocol: dict[str, Any] | str | None) -> int:
    """The version a recorded metric protocol was computed under: records made before versioning
    hold none (the first ones, a hash string instead of the protocol), so version 1."""
    return int(protocol.get("version", 1)) if isinstance(protocol, dict) else 1


def record_key(record: dict[str, Any]) -> tuple[str, str, int]:
    return (record.get("method", ""), record["scene"], int(record["sample"]))


class RecordStore:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / RECORDS

    def load(self) -> dict[tuple[str, str, int], dict[str, Any]]:
        """All complete records, the last one for each (method, scene, sample) winning."""
        out: dict[tuple[str, str, int], dict[str, Any]] = {}
        for record in read_records(self.path):
            out[record_key(record)] = record
        return out

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
        if not self.path.exists() and not self.path.is_symlink():
            return
        fd = self._open(os.O_RDWR)
        with os.fdopen(fd, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        self._repair_tail()
        lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        fd = self._open(os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())


REQUIRED = {"scene": str, "sample": int}


def read_records(path: Path) -> list[dict[str, Any]]:
    """Complete lines of a records file; a torn last line (from a kill) is ignored. A complete line
    that is not a record (not JSON, or JSON without a scene and sample) is one clear error."""
    if not Path(path).exists():
        return []
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.endswith("\n"):
                    break
                try:
                    record = json.loads(line)
                except ValueError:
                    raise RealBenchError(f"line {number} is not JSON (a realbench record per line is expected)",
                                         path=str(path)) from None
                if not isinstance(record, dict) or any(
                        not isinstance(record.get(k), t) or isinstance(record.get(k), bool)
                        for k, t in REQUIRED.items()):
                    raise RealBenchError(f"line {number} is not a realbench record (it needs a scene and a sample)",
                                         path=str(path))
                check_name(record["scene"], f"line {number}: scene id", path=str(path))  # records are data too
                records.append(record)
    except UnicodeDecodeError:
        raise RealBenchError("records file is not UTF-8 text", path=str(path)) from None
    return records
