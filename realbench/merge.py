"""``realbench merge``: combine the shard folders of one run (``--shard I/N``) into one run folder."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

from .errors import RealBenchError
from .scene import natural_key
from .imageio import atomic_write_bytes
from .records import RecordStore, read_records, record_key
from .tables import load_meta, write_summary


def merge_runs(shards: Sequence[str | Path], out: str | Path) -> Path:
    """Refuses shards of different configurations and conflicting samples; writes nothing then."""
    shards = [Path(s) for s in shards]
    out = Path(out)
    if not shards:
        raise RealBenchError("give the shard folders to merge")
    metas = [load_meta(s) for s in shards]
    first = metas[0]
    for shard, meta in zip(shards, metas):
        for key in ("config_hash", "method"):
            if meta.get(key) != first.get(key):
                raise RealBenchError(f"shard has {key} {meta.get(key)!r}, the first shard has {first.get(key)!r}; "
                                     "only shards of one run configuration can be merged", path=str(shard))
        if meta["data"]["name"] != first["data"]["name"]:
            raise RealBenchError("shard was run on other data", path=str(shard))
    if out.exists() and any(out.iterdir()):
        raise RealBenchError("merge output folder exists and is not empty", path=str(out))
    records, origin = {}, {}
    for shard in shards:
        for record in read_records(shard / "records.jsonl"):
            key = record_key(record)
            if key in records and origin[key] != shard and records[key]["image_sha256"] != record["image_sha256"]:
                raise RealBenchError(f"scene '{key[1]}' sample {key[2]} differs between shards {origin[key]} and "
                                     f"{shard}", path=str(shard))
            records[key], origin[key] = record, shard
    out.mkdir(parents=True, exist_ok=True)
    for key, record in records.items():
        target = out / record["image"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin[key] / record["image"], target)
    RecordStore(out).append(sorted(records.values(), key=record_key))
    meta = dict(first)
    meta["shard"] = None
    meta["merged_from"] = [str(s) for s in shards]
    meta["metrics"] = list(dict.fromkeys(m for m in (x for meta_ in metas for x in meta_["metrics"])))
    meta["scenes"] = sorted({r["scene"] for r in records.values()}, key=natural_key)
    atomic_write_bytes(out / "run.json", (json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n").encode())
    write_summary(out)
    return out
