"""Load test of the study server on localhost: N simulated participants (default 200), C at once
(default 50), each answering every question of the study through the HTTP API as a browser
would (register, then next/vote until done). Prints the latency percentiles of each kind of
request and the throughput, and checks that the database holds exactly the votes the server
acknowledged (none lost, none doubled).

The server runs in its own process (`python -m realbench.study serve STUDY --port 0`), so the
figures include uvicorn, FastAPI and one SQLite transaction per vote (WAL, synchronous=FULL).
Without --study, a study is made from telea, homography-warp and oracle runs on the built-in
sample (6 scenes, 1 attention check, 14 questions per participant).
Run: python benchmarks/study_load.py [--participants 200 --concurrency 50 --study DIR]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import queue
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np


def make_sample_study(root: Path) -> Path:
    from realbench.api import evaluate
    from realbench.study import make_study

    runs = []
    for method in ("telea", "homography-warp", "oracle"):
        out = root / f"run-{method}"
        evaluate(method, "sample", out=out, metrics=["none"], select=False, progress=False)
        runs.append(out)
    return make_study(runs, root / "study")


def start_server(study: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "realbench.study", "serve", str(study), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line.startswith("participants: "):
            return process, line.split()[1].rstrip("/")
    process.kill()
    raise SystemExit("the study server did not start")


async def participant(client: httpx.AsyncClient, index: int, latencies: dict[str, list[float]],
                      acknowledged: list[tuple]) -> None:
    rng = random.Random(index)

    async def timed(kind: str, request) -> httpx.Response:
        start = time.perf_counter()
        reply = await request
        latencies[kind].append(time.perf_counter() - start)
        return reply

    reply = await timed("register", client.post("/api/participants", json={"prolific_pid": f"load{index:05d}"}))
    pid = reply.json()["participant"]
    step = (await timed("next", client.get(f"/api/participants/{pid}/next"))).json()
    for _ in range(10_000):  # bounded
        if step["done"]:
            return
        choice = rng.choice(step["options"])["id"]
        vote = {"participant": pid, "position": step["position"], "question": step["question"], "choice": choice}
        reply = await timed("vote", client.post("/api/votes", json=vote))
        if reply.status_code != 201:
            raise SystemExit(f"vote refused: {reply.status_code} {reply.text}")
        acknowledged.append((pid, vote["position"], vote["question"], choice))
        step = reply.json()
    raise SystemExit("a participant never finished")


async def load(url: str, participants: int, concurrency: int) -> tuple[dict[str, list[float]], list[tuple], float]:
    latencies: dict[str, list[float]] = {"register": [], "next": [], "vote": []}
    acknowledged: list[tuple] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        async def one(index: int) -> None:
            async with gate:
                await participant(client, index, latencies, acknowledged)

        start = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(participants))), timeout=1800)
        elapsed = time.perf_counter() - start
    return latencies, acknowledged, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--study", help="a study folder to copy and load (default: one made on the sample)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="study-load-") as tmp:
        root = Path(tmp)
        if args.study:
            import shutil

            study = Path(shutil.copytree(args.study, root / "study", ignore=shutil.ignore_patterns("votes.sqlite*")))
        else:
            study = make_sample_study(root)
        process, url = start_server(study)
        try:
            latencies, acknowledged, elapsed = asyncio.run(load(url, args.participants, args.concurrency))
        finally:
            process.terminate()
            process.wait(timeout=30)
        with sqlite3.connect(study / "votes.sqlite") as db:
            stored = db.execute("SELECT participant, position, question, image FROM votes").fetchall()
    votes = len(acknowledged)
    print(f"{args.participants} participants, {args.concurrency} at once, {votes} votes in {elapsed:.1f} s "
          f"({votes / elapsed:.0f} votes/s, {sum(map(len, latencies.values())) / elapsed:.0f} requests/s)")
    for kind, values in latencies.items():
        ms = 1000 * np.asarray(values)
        print(f"  {kind:8s} n={len(ms):6d}  p50 {np.percentile(ms, 50):7.1f} ms  p95 {np.percentile(ms, 95):7.1f} ms  "
              f"p99 {np.percentile(ms, 99):7.1f} ms  max {ms.max():7.1f} ms")
    lost = set(acknowledged) - set(stored)
    print(f"database: {len(stored)} votes stored, {len(lost)} acknowledged votes missing, "
          f"{len(stored) - len(set(stored))} duplicates")
    if lost or len(stored) != votes:
        raise SystemExit("votes were lost or added")


if __name__ == "__main__":
    main()
