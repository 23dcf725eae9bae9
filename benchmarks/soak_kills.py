"""Soak test of crash safety: commands killed with SIGKILL at random moments, each followed by a
rerun of the same command, whose result must equal an uninterrupted run's with no temp file left.

- ``evaluate``: a run on the built-in sample killed at N random moments (each kill a fresh process,
  resumed from the same --out), then finished; its records and table must equal an uninterrupted
  run's, byte for byte on everything but wall-clock fields.
- ``merge``, ``report``, ``data export``: each killed N times, half at a random moment of the whole
  command (imports included), half at a random moment after its staging folder appeared (mid-work);
  after every kill the same command is run again to completion and must exit 0, leave no hidden
  temp entry beside its output, and produce exactly the uninterrupted output (records and run.json
  for a merge, every byte of the page and its files for a report, every byte of the export).

Run: python benchmarks/soak_kills.py [--kills 20 --samples 6 --seed 0] [--commands evaluate,merge,report,export]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOLATILE = ("time", "seconds")
COMMANDS = ("evaluate", "merge", "report", "export")


def command(out: Path, samples: int) -> list[str]:
    return [sys.executable, "-m", "realbench.cli", "evaluate", "--method", "slow_method:SlowNoisyTelea",
            "--samples", str(samples), "--set", "delay=0.15", "--no-progress", "--out", str(out)]


def stable(out: Path) -> list[dict]:
    latest = {}
    for line in (out / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        latest[(record["scene"], record["sample"])] = {k: v for k, v in record.items() if k not in VOLATILE}
    return [latest[k] for k in sorted(latest)]


def soak_evaluate(args, rng: random.Random, env: dict, tmp: Path) -> bool:
    """The original soak: kill a run N times, resume it, compare with an uninterrupted run."""
    started = time.perf_counter()
    subprocess.run(command(tmp / "clean", args.samples), env=env, check=True, stdout=subprocess.DEVNULL)
    clean_seconds = time.perf_counter() - started
    killed_at = []
    for _ in range(args.kills):
        process = subprocess.Popen(command(tmp / "killed", args.samples), env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        delay = rng.uniform(1.0, 4.0)  # imports take about 2 s: some kills land before any work, most during
        try:
            process.wait(timeout=delay)
            killed_at.append(f"{delay:.2f}s (finished first)")
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed_at.append(f"{delay:.2f}s")
    result = subprocess.run(command(tmp / "killed", args.samples), env=env, capture_output=True, text=True)
    same_records = stable(tmp / "clean") == stable(tmp / "killed")
    same_table = (tmp / "clean" / "summary.csv").read_text() == (tmp / "killed" / "summary.csv").read_text()
    leftovers = [p.name for p in (tmp / "killed").rglob(".*.tmp")]
    print(f"uninterrupted run: {clean_seconds:.1f} s, {len(stable(tmp / 'clean'))} samples")
    print(f"killed {sum(not k.endswith('first)') for k in killed_at)} times at: {', '.join(killed_at)}")
    print(f"final resume exit code {result.returncode}; records equal: {same_records}; summary.csv equal: "
          f"{same_table}; temp files left: {len(leftovers)}")
    return result.returncode == 0 and same_records and same_table


# ------------------------------------------------------------------ merge, report, data export

@dataclass
class Target:
    """One command to kill: its argv for an output place, where its output and staging appear,
    and what of its output must equal the uninterrupted run's."""

    name: str
    argv: Callable[[Path], list[str]]  # place -> command
    output: Callable[[Path], list[Path]]  # place -> the paths that make its result (removed between kills)
    staging: str  # glob, in the place, of what exists only while the command works
    result: Callable[[Path], object]  # place -> a comparable digest of the result


def tree_digest(paths: list[Path]) -> dict[str, str]:
    """sha256 of every file under ``paths`` (relative names), for byte-for-byte comparison."""
    out = {}
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            out[str(file.relative_to(root.parent))] = hashlib.sha256(file.read_bytes()).hexdigest()
    return out


def merge_digest(folder: Path) -> tuple:
    meta = json.loads((folder / "run.json").read_text())
    images = tree_digest([folder / "images"])
    return stable(folder), {k: v for k, v in meta.items() if k != "created"}, images


def hidden_leftovers(place: Path) -> list[str]:
    """Hidden entries beside the output that are not lock files: temp files, staging folders."""
    return sorted(p.name for p in place.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


def targets(args, env: dict, tmp: Path) -> dict[str, Target]:
    """The three commands, on inputs made once: two shards and a run of the slow method (no delay)."""
    shards = [tmp / "shards" / f"slow-shard-{i}of2" for i in (1, 2)]
    for i, shard in enumerate(shards, 1):
        subprocess.run([sys.executable, "-m", "realbench", "evaluate", "--method", "slow_method:SlowNoisyTelea",
                        "--samples", str(args.samples), "--set", "delay=0", "--shard", f"{i}/2", "--no-progress",
                        "--out", str(shard)], env=env, check=True, stdout=subprocess.DEVNULL)
    run = tmp / "shards" / "whole"
    subprocess.run([sys.executable, "-m", "realbench", "merge", *map(str, shards), "--out", str(run)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    cli = [sys.executable, "-m", "realbench"]
    return {
        "merge": Target("merge", lambda p: [*cli, "merge", *map(str, shards), "--out", str(p / "merged")],
                        lambda p: [p / "merged"], ".merged.merging-*", lambda p: merge_digest(p / "merged")),
        "report": Target("report", lambda p: [*cli, "report", str(run), "--out", str(p / "page.html"),
                                              "--no-self-contained"],
                         lambda p: [p / "page.html", p / "page_files"], ".page_files.*",
                         lambda p: tree_digest([p / "page.html", p / "page_files"])),
        "export": Target("export", lambda p: [*cli, "data", "export", "--to", str(p / "exported")],
                         lambda p: [p / "exported"], ".exported.*", lambda p: tree_digest([p / "exported"])),
    }


def watch(process: subprocess.Popen, place: Path, staging: str, kill_at: Callable[[float, float | None], bool]
          ) -> tuple[float, float | None]:
    """Poll ``process`` every 2 ms until it exits or ``kill_at(elapsed, staging_seen_at)`` says
    kill; returns (elapsed, when staging first appeared)."""
    started, seen = time.perf_counter(), None
    while process.poll() is None:
        elapsed = time.perf_counter() - started
        if seen is None and any(place.glob(staging)):
            seen = elapsed
        if kill_at(elapsed, seen):
            process.send_signal(signal.SIGKILL)
            process.wait()
            break
        time.sleep(0.002)
    return time.perf_counter() - started, seen


def clear(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def soak_target(target: Target, args, rng: random.Random, env: dict, tmp: Path) -> bool:
    reference = tmp / f"{target.name}-uninterrupted"
    reference.mkdir()
    process = subprocess.Popen(target.argv(reference), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    total, seen = watch(process, reference, target.staging, lambda e, s: False)
    if process.returncode != 0:
        print(f"{target.name}: the uninterrupted run failed ({process.stderr.read().decode()[-500:]})")
        return False
    work = total - seen if seen is not None else 0.0
    expected = target.result(reference)
    place = tmp / f"{target.name}-killed"
    place.mkdir()
    killed_at, codes, equal, left = [], [], True, 0
    for k in range(args.kills):
        clear(target.output(place))
        process = subprocess.Popen(target.argv(place), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if k % 2 == 0:  # anywhere in the command, imports included
            delay = rng.uniform(0.0, total)
            watch(process, place, target.staging, lambda e, s, d=delay: e >= d)
            label = f"{delay:.2f}s"
        else:  # mid-work: a random moment after the staging folder appeared
            extra = rng.uniform(0.0, max(work, 0.01))
            watch(process, place, target.staging, lambda e, s, x=extra: s is not None and e >= s + x)
            label = f"staging+{extra:.3f}s"
        finished = process.returncode == 0
        killed_at.append(label + (" (finished first)" if finished else ""))
        if not finished:  # killed: the same command again, to completion
            rerun = subprocess.run(target.argv(place), env=env, capture_output=True, text=True)
            codes.append(rerun.returncode)
            if rerun.returncode != 0:
                last = rerun.stderr.strip().splitlines()[-1][:300] if rerun.stderr.strip() else ""
                print(f"{target.name}: rerun after the kill at {label} exited {rerun.returncode}: {last}")
        if codes[-1:] != [0] and not finished:
            pass  # no result to compare: the rerun failed (reported above)
        elif target.result(place) != expected:
            equal = False
        stale = hidden_leftovers(place)
        left += len(stale)
        if stale:
            print(f"{target.name}: after the kill at {label} and its rerun, left: {', '.join(stale)}")
            for name in stale:
                clear([place / name])
    print(f"{target.name}: uninterrupted {total:.2f} s ({work:.3f} s after its staging folder appeared)")
    print(f"{target.name}: killed {sum(not k.endswith('first)') for k in killed_at)} times at: {', '.join(killed_at)}")
    print(f"{target.name}: rerun exit codes {','.join(map(str, codes)) or '(none killed)'}; results equal the "
          f"uninterrupted one: {equal}; temp files left: {left}")
    return all(c == 0 for c in codes) and equal and left == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20, help="kills per command")
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--commands", default=",".join(COMMANDS), help=f"comma-separated, of {', '.join(COMMANDS)}")
    args = parser.parse_args()
    chosen = [c.strip() for c in args.commands.split(",") if c.strip()]
    unknown = set(chosen) - set(COMMANDS)
    if unknown:
        parser.error(f"unknown command(s): {', '.join(sorted(unknown))}")
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    passed = True
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env["REALBENCH_CACHE"] = str(tmp / "cache")
        if "evaluate" in chosen:
            passed &= soak_evaluate(args, rng, env, tmp)
        others = [c for c in chosen if c != "evaluate"]
        if others:
            made = targets(args, env, tmp)
            for name in others:
                passed &= soak_target(made[name], args, rng, env, tmp)
    if not passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
