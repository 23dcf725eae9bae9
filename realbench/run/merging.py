"""``realbench merge``: combine the shard folders of one run (``--shard I/N``) into one run folder
(its records and images; the summary files are the summarising layer's, written by the API).

Shards are found from folders, shell globs or a parent folder holding them; they must be parts of
one run (same method, config and data content) and, unless ``partial``, cover every scene. The
merged folder is built beside its destination and renamed into place when complete, so a killed
merge leaves nothing a rerun would trip over.
"""
from __future__ import annotations

import glob
import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from realbench.core.errors import RealBenchError
from realbench.core.files import atomic_write_bytes, staged_folder
from realbench.core.imageio import read_rgb
from realbench.core.paths import check_out, inside, printable
from realbench.core.words import count

from .naming import unsharded_name
from .records import Record, RecordStore
from .runfolder import RunFolder
from .runlock import RunLock
from .runmeta import RunMeta, most_samples


def find_shards(sources: Sequence[str | Path]) -> list[Path]:
    """Run folders named by ``sources``: folders, glob patterns (quoted, so the shell left them),
    or a parent folder whose run folders are shards."""
    found: list[Path] = []
    for source in sources:
        text = str(source)
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        if not matches:
            raise RealBenchError("no folder matches this pattern", path=printable(text))
        for match in map(Path, matches):
            if RunFolder(match).exists():
                found.append(match)
            elif match.is_dir():
                found += sorted(child for child in match.iterdir()
                                if RunFolder(child).exists() and RunFolder(child).read_meta().shard is not None)
            else:
                raise RealBenchError("not a run folder (no run.json) and not a folder of shards", path=str(match))
    if not found:
        raise RealBenchError("found no shard folders to merge", path=", ".join(map(str, sources)))
    return list(dict.fromkeys(found))


def _check_one_run(shards: list[Path], metas: list[RunMeta]) -> None:
    first = metas[0]
    for shard, meta in zip(shards, metas):
        if meta.shard is None:
            raise RealBenchError("not a shard (run without --shard); merge the parts of one --shard I/N series",
                                 path=str(shard))
        problem = None
        assert meta.shard is not None and first.shard is not None
        if (meta.method, meta.config_hash) != (first.method, first.config_hash):
            problem = f"method {meta.method} config {meta.config_hash}, the first shard {first.method} " \
                      f"config {first.config_hash}"
        elif meta.shard[1] != first.shard[1]:
            problem = f"a part of {meta.shard[1]}, the first shard a part of {first.shard[1]}"
        elif sorted(meta.data.all_scenes) != sorted(first.data.all_scenes):
            problem = "another scene set"
        elif meta.data.all_checksum and first.data.all_checksum and meta.data.all_checksum != first.data.all_checksum:
            problem = (f"different data (the content checksum of all its scenes is {meta.data.all_checksum}, the "
                       f"first shard's {first.data.all_checksum})")
        if problem:
            raise RealBenchError(f"not a part of the same run as {shards[0]}: {problem}", path=str(shard))
    _check_same_content(shards, metas)
    indices = [m.shard[0] for m in metas if m.shard is not None]
    if len(set(indices)) < len(indices):
        raise RealBenchError("two of the folders are the same shard (same I of --shard I/N); merge each part once")


def _check_same_content(shards: list[Path], metas: list[RunMeta]) -> None:
    """Shards made on data with other content under the same names never merge."""
    seen: dict[str, tuple[str, Path]] = {}
    for shard, meta in zip(shards, metas):
        for scene, checksum in meta.data.scene_checksums.items():
            if scene in seen and seen[scene][0] != checksum:
                raise RealBenchError(f"scene '{printable(scene)}' has content {checksum} here and {seen[scene][0]} "
                                     f"in {seen[scene][1]}: the shards were made on different data", path=str(shard))
            seen.setdefault(scene, (checksum, shard))


def _coverage(metas: list[RunMeta]) -> list[str]:
    """Scenes of the whole run that no shard holds."""
    wanted = set(metas[0].data.all_scenes)
    scored = {scene for m in metas for scene in m.scenes}
    missing = sorted(wanted - scored, key=metas[0].scene_key())
    if not missing:
        return []
    return [f"{len(missing)} of {count(len(wanted), 'scene')} {'is' if len(missing) == 1 else 'are'} in no shard "
            f"({', '.join(missing[:10])}"
            f"{', ...' if len(missing) > 10 else ''})"]


def _collect(shards: list[Path]) -> dict[tuple[str, str, int], tuple[Record, Path]]:
    records: dict[tuple[str, str, int], tuple[Record, Path]] = {}
    for shard in shards:
        for record in RunFolder(shard).records():  # each checked against its shard's run.json
            source = inside(shard, record.image, "record image")  # never a path outside the shard
            if not source.is_file():
                raise RealBenchError(f"the image of scene '{record.scene}' sample {record.sample} is missing",
                                     path=str(source))
            digest = hashlib.sha256(read_rgb(source, record.scene).tobytes()).hexdigest()[:16]
            if record.image_sha256 and digest != record.image_sha256:
                raise RealBenchError(f"the stored image of sample {record.sample} is not the one its record "
                                     f"describes (pixel hash {digest}, recorded {record.image_sha256}): it was changed "
                                     "after the shard wrote it", scene=record.scene, path=str(source))
            previous = records.get(record.key)
            if previous and previous[1] != shard and previous[0].image_sha256 != record.image_sha256:
                raise RealBenchError(f"scene '{record.scene}' sample {record.sample} differs between shards "
                                     f"{previous[1]} and {shard}", path=str(shard))
            records[record.key] = (record, shard)
    return records


def merged_meta(metas: list[RunMeta], shards: list[Path], problems: list[str]) -> RunMeta:
    first = metas[0]
    key = first.scene_key()
    scenes = sorted({s for m in metas for s in m.scenes}, key=key)
    checksums = {s: c for m in metas for s, c in m.data.scene_checksums.items()}
    tasks = {s: t for m in metas for s, t in m.data.tasks.items()}
    data = replace(first.data, scene_checksums={s: checksums[s] for s in scenes},
                   tasks={s: tasks[s] for s in scenes if s in tasks})
    protocols = {k: v for m in metas for k, v in m.metric_protocols.items()}
    return replace(first, shard=None, scenes=scenes, data=data, merged_from=[str(s) for s in shards],
                   partial=problems or None, metrics=list(dict.fromkeys(x for m in metas for x in m.metrics)),
                   metric_info={k: v for m in metas for k, v in m.metric_info.items()}, metric_protocols=protocols,
                   unavailable={k: v for m in metas for k, v in m.unavailable.items() if k not in protocols},
                   samples=most_samples(*(m.samples for m in metas)))


def merge_runs(sources: Sequence[str | Path], out: str | Path | None = None, partial: bool = False,
               check_only: bool = False) -> Path:
    """Refuses shards of different runs or data, conflicting samples and (unless ``partial``) a
    set of shards that does not cover the whole run; writes nothing then. ``out`` defaults to the
    shards' common name without ``-shard-IofN`` when they were named by default. ``check_only``:
    the checks of the folders alone (no image is read, nothing written)."""
    shards = find_shards(sources)
    metas = [RunFolder(s).read_meta() for s in shards]
    _check_one_run(shards, metas)
    problems = _coverage(metas)
    if problems and not partial:
        raise RealBenchError(f"the shards of run '{printable(metas[0].label)}' ({shards[0].name}, ...) do not "
                             f"cover the whole run: {'; '.join(problems)}. Merge every shard, "
                             "or pass --partial to merge these alone (the result says it is partial)")
    target = Path(out) if out is not None else _default_out(shards)
    check_out(target, "merge --out")
    meta = merged_meta(metas, shards, problems)
    if check_only:
        if target.exists() and any(target.iterdir()) and not RunFolder(target).exists():
            raise RealBenchError("merge output folder exists, is not empty and is not a run folder; give another "
                                 "--out", path=str(target))
        if RunFolder(target).exists() and not _already_merged(target, meta):
            RunFolder(target).read_meta().join(meta, str(target))  # another run there: refused now
        return target
    if target.exists() and any(target.iterdir()):
        if _already_merged(target, meta):  # the same merge done before (a rerun after a kill, say)
            return target
        if RunFolder(target).exists():  # a run of the same identity (an unsharded run, say): extend it
            _extend(target, _collect(shards), meta)
            return target
        raise RealBenchError("merge output folder exists, is not empty and is not a run folder; give another --out",
                             path=str(target))
    _write(target, _collect(shards), meta)
    return target


def group_shards(sources: Sequence[str | Path]) -> list[list[Path]]:
    """The shard folders ``sources`` name, grouped by the run they are parts of (a parent folder
    or a glob such as ``runs/`` may hold the shards of several runs), in order of first appearance.
    Run folders named one by one are the parts of one run (checked as such by the merge)."""
    shards = find_shards(sources)
    if all(RunFolder(source).exists() and not glob.has_magic(str(source)) for source in sources):
        return [shards]
    groups: dict[tuple, list[Path]] = {}
    for shard in shards:
        meta = RunFolder(shard).read_meta()
        key = (unsharded_name(shard), meta.method, meta.config_hash, meta.shard[1] if meta.shard else None,
               meta.data.all_checksum, tuple(sorted(meta.data.all_scenes)))
        groups.setdefault(key, []).append(shard)
    return list(groups.values())


def _extend(target: Path, records: dict[tuple[str, str, int], tuple[Record, Path]], meta: RunMeta) -> None:
    """Add the shards' samples that a run folder of the same identity lacks, as a shard run into
    that folder would (refused, naming the difference, for another run): images first, then the
    records, so a killed extension is redone by the rerun."""
    folder = RunFolder(target)
    joined = folder.read_meta().join(meta, str(target))
    with RunLock(target):
        have = {r.key: r for r in folder.records()}
        for key, (record, shard) in records.items():
            if key in have and have[key].image_sha256 != record.image_sha256:
                raise RealBenchError(f"scene '{printable(record.scene)}' sample {record.sample} differs between the "
                                     f"folder and shard {shard}", path=str(target))
        new = sorted((pair for key, pair in records.items() if key not in have), key=lambda pair: pair[0].key)
        try:
            for record, shard in new:
                destination = inside(target, record.image, "record image")
                destination.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(destination, inside(shard, record.image, "record image").read_bytes())
            folder.write_meta(replace(joined, merged_from=sorted({*(joined.merged_from or []),
                                                                   *(meta.merged_from or [])})))
            RecordStore(target).append(record for record, _ in new)
        except OSError as exc:
            raise RealBenchError(f"cannot write the merge folder ({exc.strerror or exc})", path=str(target)) from None


def _already_merged(target: Path, meta: RunMeta) -> bool:
    folder = RunFolder(target)
    if not folder.exists():
        return False
    done = folder.read_meta()
    return (done.config_hash, done.data.scene_checksums, sorted(done.merged_from or [])) == (
        meta.config_hash, meta.data.scene_checksums, sorted(meta.merged_from or []))


def _default_out(shards: list[Path]) -> Path:
    names = {unsharded_name(s) for s in shards}
    if len(names) != 1 or None in names:
        raise RealBenchError("give --out: the shard folders are not named by default (…-shard-IofN) or disagree")
    return names.pop()  # type: ignore[return-value]


def _write(target: Path, records: dict[tuple[str, str, int], tuple[Record, Path]], meta: RunMeta) -> None:
    """Build the merged folder beside ``target`` and rename it into place when complete (what a
    killed merge left is removed by the next one: ``staged_folder``)."""
    try:
        with staged_folder(target) as staging, RunLock(staging):
            RunFolder(staging).write_meta(meta)  # first: it marks the staging folder as a merge's
            for record, shard in records.values():
                destination = inside(staging, record.image, "record image")
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(inside(shard, record.image, "record image"), destination)
            RecordStore(staging).append(sorted((r for r, _ in records.values()), key=lambda r: r.key))
    except OSError as exc:
        raise RealBenchError(f"cannot write the merge folder ({exc.strerror or exc})", path=str(target)) from None
