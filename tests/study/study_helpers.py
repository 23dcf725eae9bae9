"""Helpers of the study tests: hostile names, a live server in a thread, raw HTTP, walking a
participant through a study, reading the votes database."""
from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

HOSTILE_SCENE = "<img src=x onerror=alert(1)>"
HOSTILE_LABEL = 'warp"><script>alert(2)</script>'
RUN_FOLDERS = ("run-telea-sample", "run-warp-sample", "run-telea-qual", "run-warp-qual", "run-oracle-sample")



@contextlib.contextmanager
def live_server(study_dir: Path, token: str = "researcher-token") -> Iterator[str]:
    """The study's real server (uvicorn) on 127.0.0.1 and a free port, in a thread; yields its URL."""
    import uvicorn

    from realbench.study.server import bind, create_app

    app = create_app(study_dir, token)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the study server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def raw_request(url: str, request: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send bytes as they are (no client normalising the path) and return (status, whole reply)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        reply = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            reply += chunk
            if b"\r\n\r\n" in reply and _complete(reply):
                break
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0
    return status, reply


def _complete(reply: bytes) -> bool:
    head, _, body = reply.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def walk(client, participant: str, choose) -> list[tuple[int, str, str]]:
    """Answer every question of a participant through the HTTP API; ``choose(step)`` picks an
    option id. Returns (position, question, chosen image) in order."""
    cast = []
    step = client.get(f"/api/participants/{participant}/next").json()
    for _ in range(1000):  # bounded: no study here has that many steps
        if step["done"]:
            return cast
        choice = choose(step)
        reply = client.post("/api/votes", json={"participant": participant, "position": step["position"],
                                                "question": step["question"], "choice": choice})
        assert reply.status_code == 201, reply.text
        cast.append((step["position"], step["question"], choice))
        step = reply.json()
    raise AssertionError("the study did not end")


def db_votes(study_dir: Path, participant: str | None = None) -> list[tuple]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(study_dir / "votes.sqlite")) as db:
        query = "SELECT participant, position, question, image FROM votes"
        rows = db.execute(query + (" WHERE participant = ?" if participant else "") + " ORDER BY id",
                          (participant,) if participant else ()).fetchall()
    return rows


def random_choice(seed: int = 0):
    rng = np.random.default_rng(seed)
    return lambda step: step["options"][int(rng.integers(len(step["options"])))]["id"]
