"""What the study server does, without HTTP: register or resume participants, say what they
answer next, take votes, report progress. The web layer (``server.py``) only maps requests to
these calls and their errors to status codes (``NotFound`` 404, ``Invalid`` 422, ``Conflict`` 409,
``Full`` 403).

Nothing a participant receives names a method, a run or a scene: only texts, image ids and
progress. Whether an item is an attention check is never said either.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .config import CONFIG_FILE, load_config
from .manifest import read_manifest
from .plan import BROKEN, participant_plan
from .store import DB_FILE, DuplicateVote, External, ShownItem, Store, StudyFull

PLATFORM_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class NotFound(Exception):
    pass


class Invalid(Exception):
    pass


class Conflict(Exception):
    pass


class Full(Exception):
    pass


def image_url(image: str) -> str:
    return f"/img/{image}"


def external_ids(fields: Mapping[str, str | None]) -> External:
    """A crowd platform's ids from the study URL's parameters: Prolific (``PROLIFIC_PID``,
    ``STUDY_ID``, ``SESSION_ID``), MTurk (``workerId``, ``hitId``, ``assignmentId``), or none."""
    for name, value in fields.items():
        if value is not None and not PLATFORM_ID.match(value):
            raise Invalid(f"{name} must be 1-128 letters, digits or '_.:-'")
    if fields.get("prolific_pid"):
        return External("prolific", fields["prolific_pid"], fields.get("study_id"), fields.get("session_id"))
    if fields.get("worker_id"):
        return External("mturk", fields["worker_id"], fields.get("hit_id"), fields.get("assignment_id"))
    return External("direct")


class StudyService:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.config = load_config(self.folder / CONFIG_FILE)
        self.store = Store(self.folder / DB_FILE)
        self.store.initialise(self.manifest.study_id, asdict(self.config))
        self.questions = [q.id for q in self.config.questions]
        self.scenes = {s.key: s for s in self.manifest.scenes}
        self._shown = functools.lru_cache(maxsize=8192)(self.store.shown)  # a plan never changes once recorded

    def public(self) -> dict[str, Any]:
        return {"study": self.manifest.study_id, **self.config.public()}

    def register(self, external: External) -> tuple[str, bool]:
        try:
            return self.store.register(external, lambda slot: participant_plan(self.manifest, slot),
                                       self.config.max_participants)
        except StudyFull as exc:
            raise Full(str(exc)) from None

    def _plan(self, pid: str) -> dict[int, ShownItem]:
        if self.store.participant(pid) is None:
            raise NotFound("unknown participant")
        return self._shown(pid)

    def _order(self, shown: dict[int, ShownItem]) -> list[tuple[int, str]]:
        return [(position, question) for position in sorted(shown) for question in self.questions]

    def next_step(self, pid: str) -> dict[str, Any]:
        shown = self._plan(pid)
        return self._step(shown, self.store.answered(pid))

    def _step(self, shown: dict[int, ShownItem], answered: set[tuple[int, str]]) -> dict[str, Any]:
        order = self._order(shown)
        remaining = [step for step in order if step not in answered]
        progress = {"step": len(order) - len(remaining) + 1, "answered": len(order) - len(remaining),
                    "total": len(order)}
        if not remaining:
            config = self.config
            return {"done": True, **progress, "step": len(order), "completion_text": config.completion_text,
                    "completion_code": config.completion_code, "redirect_url": config.redirect_url}
        position, question_id = remaining[0]
        question = self.config.question(question_id)
        assert question is not None
        item = shown[position]
        scene = self.scenes[item.scene]
        return {"done": False, **progress, "position": position, "question": question_id,
                "prompt": question.prompt, "hint": question.hint, "target_text": self.config.target_text,
                "target": image_url(scene.target),
                "references_text": self.config.references_text if question.references else "",
                "references": [image_url(r) for r in scene.references] if question.references else [],
                "options": [{"id": image, "src": image_url(image)} for image, _, _ in item.options]}

    def vote(self, pid: str, position: int, question: str, image: str, seconds: float | None) -> dict[str, Any]:
        shown = self._plan(pid)
        if position not in shown:
            raise NotFound("unknown item")
        if question not in self.questions:
            raise Invalid("unknown question")
        if image not in {option[0] for option in shown[position].options}:
            raise Invalid("not an option of this item")
        order = self._order(shown)

        def expected(answered: set[tuple[int, str]]) -> tuple[int, str] | None:
            return next((step for step in order if step not in answered), None)

        try:
            answered = self.store.cast(pid, position, question, image, seconds, expected)
        except DuplicateVote as exc:
            raise Conflict(str(exc)) from None
        return self._step(shown, answered)

    def progress(self) -> dict[str, Any]:
        """For the researcher: participants, votes, attention-check failures."""
        store = self.store
        people = store.rows("SELECT id, slot, platform, external_id, created, completed FROM participants "
                            "ORDER BY slot")
        votes = dict(store.rows("SELECT participant, COUNT(*) FROM votes GROUP BY participant"))
        steps = dict(store.rows("SELECT participant, COUNT(DISTINCT position) FROM shown GROUP BY participant"))
        failed = dict(store.rows(
            "SELECT v.participant, COUNT(*) FROM votes v JOIN shown s ON s.participant = v.participant AND "
            "s.position = v.position AND s.image = v.image WHERE s.kind = 'attention' AND s.source = ? "
            "GROUP BY v.participant", (BROKEN,)))
        rows = [{"slot": slot, "platform": platform, "external_id": external, "created": created,
                 "completed": completed, "votes": int(votes.get(pid, 0)),
                 "total": int(steps.get(pid, 0)) * len(self.questions), "attention_failures": int(failed.get(pid, 0))}
                for pid, slot, platform, external, created, completed in people]
        limit = self.config.max_attention_failures
        return {"study": self.manifest.study_id, "participants": len(rows),
                "completed": sum(r["completed"] is not None for r in rows), "votes": sum(votes.values()),
                "failing_attention": sum(r["attention_failures"] > limit for r in rows),
                "max_attention_failures": limit, "rows": rows}
