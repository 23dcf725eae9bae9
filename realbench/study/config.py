"""The study's typed configuration, in two parts.

``StudyDesign`` is fixed when the study is made (seed, attention-check rate, samples kept per method
and scene, image encoding): the images and every participant's plan follow from it, so it lives in
the server-side ``manifest.json``. ``StudyConfig`` is what participants read (the paper's two
questions, in the paper's order and wording, Figs. 14-15) and how a visit ends (completion code,
redirect URL); it lives in ``study.yaml`` inside the study folder, which researchers may edit
before serving (texts are always shown as plain text, never as HTML).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from realbench.core.errors import RealBenchError
from realbench.core.files import atomic_write_bytes
from realbench.core.yamlio import read_yaml_file

CONFIG_FILE = "study.yaml"
MAX_TEXT = 2000
QUESTION_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
KINDS = ("methods", "versus-ground-truth")
FORMATS = ("jpeg", "png")


@dataclass(frozen=True)
class Question:
    """One question asked about every item; ``references`` shows the reference photos with it."""

    id: str
    criterion: str  # the column of Table 3 ("most realistic")
    prompt: str
    hint: str = ""
    references: bool = False


PAPER_QUESTIONS = (
    Question("realism", "most realistic", "Which completed image looks the best to you?",
             "i.e., most photorealistic and visually compelling", references=False),
    Question("faithfulness", "most faithful",
             "Given the other photos, which completed image is most faithful to the original scene?",
             "i.e., recover the true scene", references=True),
)


@dataclass(frozen=True)
class StudyConfig:
    """What participants read, and how the analysis excludes inattentive ones."""

    title: str = "Which completion is best?"
    welcome: str = ("You will see photos with a missing gray region and several ways to fill it. Pick the one you "
                    "prefer each time; there are no right or wrong answers. Your progress is saved after every "
                    "answer, so you can reload the page and continue.")
    target_text: str = "We are aiming to complete the image below by filling the gray region"
    references_text: str = "Other photos capture the same scene:"
    questions: tuple[Question, ...] = PAPER_QUESTIONS
    submit_text: str = "Next"
    completion_text: str = "Thank you! All your answers are saved."
    completion_code: str = ""  # shown at the end (Prolific, MTurk)
    redirect_url: str = ""  # e.g. https://app.prolific.com/submissions/complete?cc=CODE
    max_attention_failures: int = 0  # a participant failing more attention questions is excluded
    max_participants: int = 0  # 0: no limit; arrivals beyond it are told the study is full

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def public(self) -> dict[str, Any]:
        """What the participant page needs (no analysis settings)."""
        return {"title": self.title, "welcome": self.welcome, "target_text": self.target_text,
                "references_text": self.references_text, "submit_text": self.submit_text}


@dataclass(frozen=True)
class StudyDesign:
    """How the study was made; recorded and never edited (the images and plans follow from it)."""

    kind: Literal["methods", "versus-ground-truth"] = "methods"
    seed: int = 0
    attention_rate: float = 0.1  # attention-check items per scene item (0: none)
    pool: int = 4  # samples kept per method and scene; each participant sees one, drawn at random
    scenes_per_participant: int | None = None  # None: every participant sees every scene
    image_format: Literal["jpeg", "png"] = "jpeg"
    quality: int = 92  # JPEG quality
    max_side: int = 1024  # longer side of stored images (0: as recorded)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise RealBenchError(f"study kind must be one of {', '.join(KINDS)}, got '{self.kind}'")
        _whole(self.seed, "--seed", minimum=None)
        if isinstance(self.attention_rate, bool) or not isinstance(self.attention_rate, (int, float)) \
                or not 0 <= self.attention_rate <= 1:
            raise RealBenchError(f"--attention-rate must be a number from 0 to 1, got {self.attention_rate!r}")
        _whole(self.pool, "--pool", minimum=1)
        if self.scenes_per_participant is not None:
            _whole(self.scenes_per_participant, "--scenes-per-participant", minimum=1)
        if self.image_format not in FORMATS:
            raise RealBenchError(f"--image-format must be one of {', '.join(FORMATS)}, got '{self.image_format}'")
        _whole(self.quality, "--quality", minimum=90)
        if self.quality > 100:
            raise RealBenchError(f"--quality must be at most 100, got {self.quality}")
        _whole(self.max_side, "--max-side", minimum=0)
        if 0 < self.max_side < 64:
            raise RealBenchError(f"--max-side must be 0 (keep) or at least 64, got {self.max_side}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyDesign:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _whole(value: Any, what: str, minimum: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        bound = f" of at least {minimum}" if minimum is not None else ""
        raise RealBenchError(f"{what} must be a whole number{bound}, got {value!r}")


# ---------------------------------------------------------------------- study.yaml

_HEADER = """\
# The texts participants read, and how the study ends. Edit them before serving (restart
# `realbench study serve` after an edit); everything is shown as plain text, never as HTML.
# Questions are asked in this order about every item; `references: true` shows the reference
# photos. `redirect_url` (http or https) is opened at the end, e.g. Prolific's
# https://app.prolific.com/submissions/complete?cc=CODE; `completion_code` is shown there.
# `max_attention_failures`: the analysis excludes a participant who fails more attention
# questions than this (an attention check shows the ground truth beside visibly broken fills).
# `max_participants` (0: no limit): new arrivals beyond it are told the study is full.
"""


def write_config(path: Path, config: StudyConfig) -> None:
    data = asdict(config)
    data["questions"] = [asdict(q) for q in config.questions]
    text = _HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    atomic_write_bytes(path, text.encode("utf-8"))


def load_config(path: Path) -> StudyConfig:
    """``study.yaml``, checked field by field: one error naming the file and the field."""
    raw = read_yaml_file(path, "the study config")  # bounded: size, aliases, duplicate keys
    if not isinstance(raw, dict):
        raise RealBenchError("the study config must be a YAML mapping", path=str(path))
    return config_from_dict(raw, str(path))


def config_from_dict(raw: dict[str, Any], where: str = CONFIG_FILE) -> StudyConfig:
    known = {f.name for f in fields(StudyConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RealBenchError(f"unknown setting(s) {', '.join(map(str, unknown))} (known: {', '.join(sorted(known))})",
                             path=where)
    values: dict[str, Any] = {}
    for name in known - {"questions", "max_attention_failures", "max_participants"}:
        if name in raw:
            values[name] = _text(raw[name], name, where, allow_empty=name in ("completion_code", "redirect_url"))
    if "redirect_url" in values:
        _check_url(values["redirect_url"], where)
    for name in ("max_attention_failures", "max_participants"):
        if name in raw:
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RealBenchError(f"{name} must be a whole number >= 0, got {value!r}", path=where)
            values[name] = value
    if "questions" in raw:
        values["questions"] = _questions(raw["questions"], where)
    return StudyConfig(**values)


def _text(value: Any, name: str, where: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value.strip() and not allow_empty):
        raise RealBenchError(f"{name} must be a non-empty text, got {value!r}", path=where)
    if len(value) > MAX_TEXT:
        raise RealBenchError(f"{name} is longer than {MAX_TEXT} characters", path=where)
    return value


def _check_url(url: str, where: str) -> None:
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        raise RealBenchError(f"redirect_url must be an http:// or https:// address, got {url!r}", path=where)


def _questions(raw: Any, where: str) -> tuple[Question, ...]:
    if not isinstance(raw, list) or not raw:
        raise RealBenchError("questions must be a non-empty list", path=where)
    out: list[Question] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise RealBenchError(f"question {index + 1} must be a mapping (id, criterion, prompt, hint, references)",
                                 path=where)
        unknown = sorted(set(entry) - {f.name for f in fields(Question)})
        if unknown:
            raise RealBenchError(f"question {index + 1}: unknown key(s) {', '.join(map(str, unknown))}", path=where)
        qid = entry.get("id")
        if not isinstance(qid, str) or not QUESTION_ID.match(qid):
            raise RealBenchError(f"question {index + 1}: id must be lower-case letters, digits, '-' or '_' "
                                 f"(starting with a letter, at most 32), got {qid!r}", path=where)
        if any(q.id == qid for q in out):
            raise RealBenchError(f"question id '{qid}' appears twice", path=where)
        references = entry.get("references", False)
        if not isinstance(references, bool):
            raise RealBenchError(f"question '{qid}': references must be true or false", path=where)
        out.append(Question(qid, _text(entry.get("criterion", qid), f"question '{qid}' criterion", where),
                            _text(entry.get("prompt"), f"question '{qid}' prompt", where),
                            _text(entry.get("hint", ""), f"question '{qid}' hint", where, allow_empty=True),
                            references))
    return tuple(out)
