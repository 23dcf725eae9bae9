"""What a run will do, decided before anything runs: which scenes (chosen ids, fewer
references, this shard of many) and, per scene, which samples to make and which recorded ones to
score again (a metric missing or computed under another protocol, ranking missing)."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from realbench.core.errors import RealBenchError
from realbench.core.fields import brief
from realbench.core.imageio import read_rgb
from realbench.core.scene import Scene, natural_key, scenes_checksum
from realbench.data.benchmarks import get_definition
from realbench.data.loading import Benchmark, load_benchmark, split_of

from .records import Record
from .runconfig import RunConfig
from .runfolder import RunFolder
from .worker import SceneWork, missing_metrics


@dataclass(frozen=True)
class Selection:
    """The scenes a run works on, and the whole it is a shard of."""

    bench: Benchmark  # chosen ids, fewer references, this shard
    all_scenes: list[str]  # before sharding
    all_checksum: str  # their content: every shard of one run has the same
    shard: tuple[int, int] | None


def select_data(config: RunConfig) -> Selection:
    """The scenes this run works on (chosen ids, fewer references, this shard), all the scenes
    before sharding, and the shard."""
    data = config.data
    if isinstance(data, Benchmark):
        bench = data
        if config.benchmark is not None and config.benchmark != bench.definition.name:
            bench = Benchmark(bench.name, bench.spec, bench.kind, bench.scenes, bench.note,
                              get_definition(config.benchmark))
        if config.scenes is not None:
            bench = bench.subset([bench[s] for s in config.scenes])
        if config.split is not None:
            bench = split_of(bench, config.split, named=config.scenes is not None)
    else:
        bench = load_benchmark(data, config.scenes, split=config.split, benchmark=config.benchmark,
                               archive_limits=config.archive_limits)
    if config.max_refs is not None:
        bench = bench.subset([s.with_refs(list(s.refs[:config.max_refs])) for s in bench])
    whole = bench
    shard = parse_shard(config.shard, config.shard_base)
    if shard is not None:
        bench = bench.subset(shard_scenes(bench.scenes, *shard, key=bench.definition.sort_key))
    return Selection(bench, whole.ids, scenes_checksum((s.id, s.checksum) for s in whole), shard)


MAX_SHARDS = 100_000  # more parts than any scene set has scenes


def parse_shard(shard: tuple[int, int] | str | None, base: int = 1) -> tuple[int, int] | None:
    """``"I/N"`` with I counted from ``base`` (1, as Slurm array indices usually are, or 0),
    ``(I, N)``, or ``"slurm"``: this task of the Slurm array (``SLURM_ARRAY_TASK_ID`` counted from
    ``SLURM_ARRAY_TASK_MIN``, ``SLURM_ARRAY_TASK_COUNT`` tasks). Returns the 1-based (I, N)."""
    if shard is None:
        return None
    if base not in (0, 1):
        raise RealBenchError(f"--shard-base must be 0 or 1, got {base}")
    if shard == "slurm":
        env = os.environ
        try:
            task, first = int(env["SLURM_ARRAY_TASK_ID"]), int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
            total = int(env.get("SLURM_ARRAY_TASK_COUNT") or int(env["SLURM_ARRAY_TASK_MAX"]) - first + 1)
        except (KeyError, ValueError):
            raise RealBenchError("--shard slurm needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (or _MAX) "
                                 "set by sbatch --array") from None
        shard, base = (task - first, total), 0
    if isinstance(shard, str):
        try:
            index, total = (int(part) for part in shard.split("/"))
        except ValueError:
            raise RealBenchError(f"--shard expects I/N, e.g. 1/4, got {brief(shard)}") from None
    else:
        index, total = shard
    if not 1 <= total <= MAX_SHARDS:
        raise RealBenchError(f"--shard {index}/{total}: N must be from 1 to {MAX_SHARDS:,}")
    if not base <= index <= total - 1 + base:
        raise RealBenchError(f"--shard {index}/{total}: I must be between {base} and {total - 1 + base} "
                             f"(counted from {base}{'; pass --shard-base 0 for 0-based indices' if base else ''})")
    return index + 1 - base, total


def shard_scenes(scenes: Sequence[Scene], index: int, total: int, key=natural_key) -> list[Scene]:
    """Deterministic split: scenes in the benchmark's id order (``key``; natural: 0, 1, 2, ..., 10),
    the k-th goes to shard (k mod N) + 1."""
    ordered = sorted(scenes, key=lambda s: key(s.id))
    return [s for k, s in enumerate(ordered) if k % total == index - 1]


def plan_work(bench, counts, method, folder: RunFolder, done: dict[tuple[str, str, int], Record], protocols,
              selector, reselect: bool = False, adapter=None) -> list[SceneWork]:
    """Per scene: samples never made, and recorded samples that lack a metric value, hold one
    computed under another protocol (version, options, weights), or need ranking (rescored
    from their stored image, never mixed). A sample whose inputs changed since it was recorded
    (scene content, an external image) is refused. Stored images are read later, scene by scene
    (``load_rescore_images``), so planning holds no pixels."""
    plan = []
    for scene in bench:
        todo, rescore = [], []
        for index in range(counts[scene.id]):
            record = done.get((method, scene.id, index))
            if record is None or not folder.image_path(record).exists():
                todo.append(index)
                continue
            if record.scene_checksum != scene.checksum:
                raise RealBenchError(
                    "scene content changed since this run recorded it; use another --out", scene=scene.id,
                    path=str(folder.path))
            changed = adapter.changed_input(scene, index, record.info) if adapter is not None else None
            if changed:
                raise RealBenchError(f"{changed} changed since this run scored it (sample {index}); use another "
                                     "--out to score the new version", scene=scene.id, path=str(folder.path))
            needs_rank = selector is not None and (reselect or record.correspondences is None)
            if missing_metrics(record, protocols) or needs_rank:
                rescore.append(record)
        if todo or rescore:
            plan.append(SceneWork(scene, todo, rescore, [], reselect))
    return plan


def load_rescore_images(work: SceneWork, folder: RunFolder) -> None:
    """Read the stored images of the samples a scene rescores, each checked against the hash its
    record holds: a stored image that was replaced is never scored beside the original's values."""
    images = []
    for record in work.rescore:
        path = folder.image_path(record)
        image = read_rgb(path, work.scene.id)
        digest = hashlib.sha256(image.tobytes()).hexdigest()[:16]
        if record.image_sha256 and digest != record.image_sha256:
            raise RealBenchError(f"the stored image of sample {record.sample} is not the one its record describes "
                                 f"(pixel hash {digest}, recorded {record.image_sha256}); it was changed after "
                                 "the run wrote it, so it is not rescored", scene=work.scene.id, path=str(path))
        images.append(image)
    work.images = images
