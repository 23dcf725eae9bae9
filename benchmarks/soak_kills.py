"""Soak test of crash safety: a run on the built-in sample killed with SIGKILL at N random moments
(each kill a fresh process, resumed from the same --out), then finished; its records and table
must equal an uninterrupted run's, byte for byte on everything but wall-clock fields.
Run: python benchmarks/soak_kills.py [--kills 20 --samples 6 --seed 0]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOLATILE = ("time", "seconds")


def command(out: Path, samples: int) -> list[str]:
    return [sys.executable, "-m", "realbench.cli", "evaluate", "--method", "slow_method:SlowNoisyTelea",
            "--samples", str(samples), "--set", "delay=0.15", "--no-progress", "--out", str(out)]


def stable(out: Path) -> list[dict]:
    latest = {}
    for line in (out / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        latest[(record["scene"], record["sample"])] = {k: v for k, v in record.items() if k not in VOLATILE}
    return [latest[k] for k in sorted(latest)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env["REALBENCH_CACHE"] = str(tmp / "cache")
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
        if not (result.returncode == 0 and same_records and same_table):
            sys.exit(1)


if __name__ == "__main__":
    main()
