"""Votes survive: a server killed with SIGKILL in the middle of a study and restarted has every
vote it acknowledged (and participants resume where they were), and many participants voting at
once on localhost lose nothing. Bounded in participants, steps and time."""
from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from study_helpers import db_votes, live_server, random_choice, walk

pytest_plugins = ["study_fixtures"]
STEPS = 20  # (8 scenes + 2 attention checks) x 2 questions


def _serve(study: Path) -> tuple[subprocess.Popen, str]:
    """``python -m realbench.study serve STUDY --port 0`` and the address it prints (30 s at most)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "realbench.study", "serve", str(study), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    deadline, seen = time.monotonic() + 30, []
    while time.monotonic() < deadline and process.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if line.startswith("participants: "):
            url = line.split()[1].rstrip("/")
            _wait_healthy(url, deadline)
            return process, url
    process.kill()
    raise AssertionError(f"the server did not start: {''.join(seen)}")


def _wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("the server never answered")


def _voter(url: str, pid: str, acknowledged: list, stop: threading.Event) -> None:
    """Vote until the server dies; record every vote it answered 201 to."""
    with httpx.Client(base_url=url, timeout=5) as client:
        try:
            step = client.get(f"/api/participants/{pid}/next").json()
            while not step["done"] and not stop.is_set():
                body = {"participant": pid, "position": step["position"], "question": step["question"],
                        "choice": step["options"][0]["id"]}
                reply = client.post("/api/votes", json=body)
                if reply.status_code != 201:
                    return
                acknowledged.append((pid, body["position"], body["question"], body["choice"]))
                step = reply.json()
        except httpx.HTTPError:
            return


def test_a_server_killed_mid_study_loses_no_acknowledged_vote(study):
    process, url = _serve(study)
    try:
        pids = [httpx.post(f"{url}/api/participants", json={}, timeout=5).json()["participant"] for _ in range(4)]
        acknowledged: list = []
        stop = threading.Event()
        threads = [threading.Thread(target=_voter, args=(url, pid, acknowledged, stop)) for pid in pids]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)  # mid-study, with votes in flight
        process.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert 20 <= len(acknowledged) < 4 * STEPS
    stored = db_votes(study)
    assert set(acknowledged) <= set(stored)
    with sqlite3.connect(study / "votes.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    process, url = _serve(study)  # restarted: everyone resumes at their first unanswered question
    try:
        with httpx.Client(base_url=url, timeout=5) as client:
            for pid in pids:
                mine = [v for v in stored if v[0] == pid]
                assert client.get(f"/api/participants/{pid}/next").json()["answered"] == len(mine)
            finished = walk(client, pids[0], random_choice(0))
    finally:
        process.terminate()
        process.wait(timeout=10)
    final = db_votes(study)
    assert len([v for v in final if v[0] == pids[0]]) == STEPS and len(final) == len(stored) + len(finished)
    assert set(stored) <= set(final)


def test_twenty_participants_ten_at_once_lose_no_vote(study):
    participants, at_once = 20, 10
    with live_server(study) as url:
        def participant(index: int) -> list:
            with httpx.Client(base_url=url, timeout=30) as client:
                pid = client.post("/api/participants", json={"prolific_pid": f"load{index:04d}"}).json()["participant"]
                return [(pid, *vote) for vote in walk(client, pid, random_choice(index))]

        with ThreadPoolExecutor(at_once) as pool:
            cast = [vote for votes in pool.map(participant, range(participants), timeout=120) for vote in votes]
        progress = httpx.get(f"{url}/api/admin/progress", headers={"Authorization": "Bearer researcher-token"}).json()
    assert len(cast) == participants * STEPS
    assert sorted(db_votes(study)) == sorted(cast)
    assert (progress["participants"], progress["completed"], progress["votes"]) == (participants, participants,
                                                                                   participants * STEPS)
    with sqlite3.connect(study / "votes.sqlite") as db:
        slots = [row[0] for row in db.execute("SELECT slot FROM participants ORDER BY slot")]
    assert slots == list(range(participants))  # every arrival got its own slot, none twice
