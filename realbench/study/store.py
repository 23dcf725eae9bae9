"""The votes database (``votes.sqlite`` in the study folder): SQLite in WAL mode with full
synchronisation, one transaction per vote, so a vote the server acknowledged survives the process
being killed (or the machine losing power) the moment after.

The database itself enforces what a vote may be: one per participant, item and question (UNIQUE),
and only for an option the participant was shown (a foreign key into ``shown``, where each
participant's plan is recorded when they arrive).
"""
from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realbench.core.errors import RealBenchError

from .plan import PlanItem

DB_FILE = "votes.sqlite"
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS participants (
    id TEXT PRIMARY KEY,
    slot INTEGER NOT NULL UNIQUE,
    platform TEXT NOT NULL,
    external_id TEXT,
    platform_study TEXT,
    platform_session TEXT,
    created TEXT NOT NULL,
    completed TEXT,
    UNIQUE (platform, external_id)
);
CREATE TABLE IF NOT EXISTS shown (
    participant TEXT NOT NULL REFERENCES participants(id),
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    scene TEXT NOT NULL,
    option INTEGER NOT NULL,
    image TEXT NOT NULL,
    source TEXT NOT NULL,
    method TEXT,
    sample INTEGER,
    PRIMARY KEY (participant, position, option),
    UNIQUE (participant, position, image)
);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    participant TEXT NOT NULL,
    position INTEGER NOT NULL,
    question TEXT NOT NULL,
    image TEXT NOT NULL,
    cast_at TEXT NOT NULL,
    seconds REAL,
    UNIQUE (participant, position, question),
    FOREIGN KEY (participant, position, image) REFERENCES shown(participant, position, image)
);
CREATE TABLE IF NOT EXISTS serve_log (started TEXT NOT NULL, config TEXT NOT NULL);
"""


class DuplicateVote(Exception):
    """The participant already answered this question of this item."""


class StudyFull(Exception):
    """The study has as many participants as it may have."""


@dataclass(frozen=True)
class External:
    """A crowd platform's ids for a participant (Prolific, MTurk), or none."""

    platform: str  # "direct", "prolific" or "mturk"
    external_id: str | None = None
    study: str | None = None
    session: str | None = None


@dataclass(frozen=True)
class Participant:
    id: str
    slot: int
    platform: str
    external_id: str | None
    created: str
    completed: str | None


@dataclass(frozen=True)
class ShownItem:
    kind: str
    scene: str
    options: list[tuple[str, str, str | None]]  # (image, source, method) in the order shown


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Store:
    """The votes database. Each thread keeps one connection; writes from this process take a lock
    first, so concurrent votes queue in order instead of polling SQLite's busy handler (other
    processes, e.g. an analysis while serving, still wait on SQLite's own lock)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._write = threading.Lock()
        self._opened: list[sqlite3.Connection] = []
        self._registry = threading.Lock()  # guards _opened (the write lock may be held while connecting)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (autocommit: every transaction is explicit)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                connection.execute("PRAGMA foreign_keys = ON")
                connection.execute("PRAGMA synchronous = FULL")
                connection.execute("PRAGMA busy_timeout = 30000")
            except sqlite3.Error as exc:
                raise RealBenchError(f"cannot open the votes database ({exc})", path=str(self.path)) from None
            self._local.connection = connection
            with self._registry:
                self._opened.append(connection)
        yield connection

    def close(self) -> None:
        """Close every thread's connection (the last one checkpoints the WAL into the file)."""
        with self._write, self._registry:
            for connection in self._opened:
                connection.close()
            self._opened.clear()
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on any error)."""
        with self._write, self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def initialise(self, study_id: str, config: dict[str, Any]) -> None:
        """Create the tables (once), check the database belongs to this study, log this start."""
        with self.connect() as db:
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RealBenchError(f"the votes database cannot use WAL mode (got {mode})", path=str(self.path))
        with self.transaction() as db:
            for statement in filter(str.strip, SCHEMA.split(";")):
                db.execute(statement)
            stored = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if stored.get("study_id", study_id) != study_id:
                raise RealBenchError(f"the votes database belongs to another study ({stored['study_id']}, this one is "
                                     f"{study_id}); move it away or use that study's folder", path=str(self.path))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('study_id', ?), ('schema', ?)",
                       (study_id, str(SCHEMA_VERSION)))
            db.execute("INSERT INTO serve_log VALUES (?, ?)", (_now(), json.dumps(config, sort_keys=True)))

    def register(self, external: External, plan: Callable[[int], Sequence[PlanItem]],
                 limit: int = 0) -> tuple[str, bool]:
        """The participant with these platform ids (resumed), or a new one with the next slot and
        its plan recorded (unless ``limit`` participants exist), in one transaction. Returns (id, created)."""
        with self.transaction() as db:
            if external.external_id is not None:
                row = db.execute("SELECT id FROM participants WHERE platform = ? AND external_id = ?",
                                 (external.platform, external.external_id)).fetchone()
                if row:
                    return str(row[0]), False
            slot = db.execute("SELECT COALESCE(MAX(slot) + 1, 0) FROM participants").fetchone()[0]
            if limit and slot >= limit:
                raise StudyFull(f"the study is full ({limit} participants)")
            pid = secrets.token_urlsafe(16)
            db.execute("INSERT INTO participants (id, slot, platform, external_id, platform_study, platform_session, "
                       "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (pid, slot, external.platform, external.external_id, external.study, external.session, _now()))
            db.executemany("INSERT INTO shown VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(pid, item.position, item.kind, item.scene, index, option.image, option.source,
                             option.method, option.sample)
                            for item in plan(slot) for index, option in enumerate(item.options)])
            return pid, True

    def participant(self, pid: str) -> Participant | None:
        with self.connect() as db:
            row = db.execute("SELECT id, slot, platform, external_id, created, completed FROM participants "
                             "WHERE id = ?", (pid,)).fetchone()
        return Participant(*row) if row else None

    def shown(self, pid: str) -> dict[int, ShownItem]:
        """The participant's recorded plan: per position, the item and its options in the order shown."""
        out: dict[int, ShownItem] = {}
        with self.connect() as db:
            rows = db.execute("SELECT position, kind, scene, image, source, method FROM shown WHERE participant = ? "
                              "ORDER BY position, option", (pid,)).fetchall()
        for position, kind, scene, image, source, method in rows:
            item = out.setdefault(int(position), ShownItem(str(kind), str(scene), []))
            item.options.append((str(image), str(source), method))
        return out

    def answered(self, pid: str) -> set[tuple[int, str]]:
        with self.connect() as db:
            rows = db.execute("SELECT position, question FROM votes WHERE participant = ?", (pid,)).fetchall()
        return {(int(p), str(q)) for p, q in rows}

    def cast(self, pid: str, position: int, question: str, image: str, seconds: float | None,
             expected: Callable[[set[tuple[int, str]]], tuple[int, str] | None]) -> set[tuple[int, str]]:
        """Record one vote in its own transaction, if (position, question) is the participant's
        next step (``expected`` says which, from what they answered). Returns the answered steps."""
        try:
            with self.transaction() as db:
                rows = db.execute("SELECT position, question FROM votes WHERE participant = ?", (pid,)).fetchall()
                answered = {(int(p), str(q)) for p, q in rows}
                if (position, question) in answered:
                    raise DuplicateVote("this question of this item is already answered")
                if expected(answered) != (position, question):
                    raise DuplicateVote("answer the questions in order: this is not the current one")
                db.execute("INSERT INTO votes (participant, position, question, image, cast_at, seconds) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (pid, position, question, image, _now(), seconds))
                answered.add((position, question))
                if expected(answered) is None:
                    db.execute("UPDATE participants SET completed = ? WHERE id = ? AND completed IS NULL",
                               (_now(), pid))
                return answered
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise DuplicateVote("this question of this item is already answered") from None
            raise

    def rows(self, query: str, parameters: Sequence[Any] = ()) -> list[tuple]:
        with self.connect() as db:
            return db.execute(query, parameters).fetchall()
