"""One writer per run folder: an exclusive ``fcntl`` lock on ``.realbench.lock`` that names its
holder (pid, host, start time). A second ``evaluate`` on the same ``--out`` stops at once and says
who holds it. The kernel drops the lock when its process dies, so a lock file left by a killed run
is simply taken over; the file itself is never what decides.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from realbench.core.errors import RealBenchError

LOCK = ".realbench.lock"


class RunLock:
    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except OSError as exc:
            raise RealBenchError(f"cannot lock the run folder ({exc.strerror or exc})", path=str(self.path)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RealBenchError(f"another realbench run is writing to this folder ({holder}); wait for it to "
                                 "finish or use another --out", path=str(self.path.parent)) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock; the file stays, harmless
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
        return f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}"
    except (OSError, ValueError):
        return "holder unknown"
