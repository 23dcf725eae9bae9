"""Per-sample records in ``records.jsonl``: append-only, crash-safe, last record per key wins.

A run killed at any instant (even mid-line) leaves a file whose complete lines are all valid
records; ``RecordStore`` drops a trailing partial line before appending again. Because every
line is self-contained, a run resumes from its records and shards merge by concatenation.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

RECORDS = "records.jsonl"


def protocol_version(protocol: dict[str, Any] | None) -> int:
    """The version a recorded metric protocol was computed under (records before versioning: 1)."""
    return int((protocol or {}).get("version", 1))


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

    def _repair_tail(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        self._repair_tail()
        lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())


def read_records(path: Path) -> list[dict[str, Any]]:
    """Complete lines of a records file; a torn last line (from a kill) is ignored."""
    if not Path(path).exists():
        return []
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records
