"""``realbench merge``: combine the shard folders of one run (``--shard I/N``) into one run folder
(its records and images; the summary files are the summarising layer's, written by the API)."""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from .errors import RealBenchError
from .paths import check_name, check_out, inside
from .records import RecordStore, read_records, record_key
from .runfolder import RunFolder, scene_order
from .runlock import RunLock


def _coverage(shards: list[Path], metas: list[dict]) -> list[str]:
    """What the shards leave out of the whole run: missing shard indices and scenes."""
    problems = []
    totals = {int(str(m.get("shard") or "1/1").split("/")[1]) for m in metas}
    if len(totals) > 1:
        raise RealBenchError(f"the shards split the scenes in different numbers of parts ({sorted(totals)}); "
                             "merge shards of one --shard I/N series")
    total = totals.pop()
    have = {int(str(m.get("shard") or "1/1").split("/")[0]) for m in metas}
    if len(have) < len(metas):
        raise RealBenchError("two of the folders are the same shard (same I of --shard I/N); merge each part once")
    if have != set(range(1, total + 1)):
        problems.append(f"shards {', '.join(f'{i}/{total}' for i in sorted(set(range(1, total + 1)) - have))} "
                        "are not among them")
    wanted = set((metas[0].get("data") or {}).get("all_scenes") or [])
    scored = {scene for m in metas for scene in m.get("scenes", [])}
    if wanted and wanted - scored:
        missing = sorted(wanted - scored, key=scene_order(metas[0]))
        problems.append(f"{len(missing)} of {len(wanted)} scenes are in no shard ({', '.join(missing[:10])}"
                        f"{', ...' if len(missing) > 10 else ''})")
    return problems


def merge_runs(shards: Sequence[str | Path], out: str | Path, partial: bool = False) -> Path:
    """Refuses shards of different configurations, conflicting samples and (unless ``partial``)
    a set of shards that does not cover the whole run; writes nothing then."""
    shards = [Path(s) for s in shards]
    out = Path(out)
    if not shards:
        raise RealBenchError("give the shard folders to merge")
    metas = [RunFolder(s).read_meta() for s in shards]
    first = metas[0]
    for shard, meta in zip(shards, metas):
        for key in ("config_hash", "method"):
            if meta.get(key) != first.get(key):
                raise RealBenchError(f"shard has {key} {meta.get(key)!r}, the first shard has {first.get(key)!r}; "
                                     "only shards of one run configuration can be merged", path=str(shard))
        if meta["data"]["name"] != first["data"]["name"]:
            raise RealBenchError("shard was run on other data", path=str(shard))
    problems = _coverage(shards, metas)
    if problems and not partial:
        raise RealBenchError(f"the shards do not cover the whole run: {'; '.join(problems)}. Merge every shard, "
                             "or pass --partial to merge these alone (the result says it is partial)")
    check_out(out, "merge --out")
    if out.exists() and any(out.iterdir()):
        raise RealBenchError("merge output folder exists and is not empty", path=str(out))
    records, origin = {}, {}
    for shard in shards:
        records_path = RunFolder(shard).records_path
        for record in read_records(records_path):
            check_name(record["scene"], "scene id", path=str(records_path))
            source = inside(shard, str(record.get("image", "")), "record image")  # never a path outside the shard
            if not source.is_file():
                raise RealBenchError(f"the image of scene '{record['scene']}' sample {record['sample']} is missing",
                                     path=str(source))
            key = record_key(record)
            if key in records and origin[key] != shard and records[key]["image_sha256"] != record["image_sha256"]:
                raise RealBenchError(f"scene '{key[1]}' sample {key[2]} differs between shards {origin[key]} and "
                                     f"{shard}", path=str(shard))
            records[key], origin[key] = record, shard
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RealBenchError(f"cannot create the merge folder ({exc.strerror or exc})", path=str(out)) from None
    with RunLock(out):
        for key, record in records.items():
            target = inside(out, record["image"], "record image")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(inside(origin[key], record["image"], "record image"), target)
        RecordStore(out).append(sorted(records.values(), key=record_key))
    meta = dict(first)
    meta["shard"] = None
    meta["merged_from"] = [str(s) for s in shards]
    meta["partial"] = problems or None
    meta["metrics"] = list(dict.fromkeys(m for m in (x for meta_ in metas for x in meta_["metrics"])))
    meta["scenes"] = sorted({r["scene"] for r in records.values()}, key=scene_order(meta))
    with RunLock(out):
        RunFolder(out).write_meta(meta)
    return out
