"""The server-side record of a study (``manifest.json``): which runs and scenes it was made from,
its design, and which opaque image id holds which method's sample. Never served: participants
only ever see image ids, which are random and say nothing about a method or run.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from realbench.core.errors import RealBenchError
from realbench.core.files import atomic_write_bytes

from .config import StudyDesign

MANIFEST_FILE = "manifest.json"
FORMAT = "realbench-study"
SCHEMA = 1
GROUND_TRUTH = "ground truth"  # the choice a ground-truth option counts as in the analysis


@dataclass(frozen=True)
class Sample:
    """One stored output of a method: its image id and where it came from."""

    image: str
    run: int  # index into the method's runs
    sample: int
    seed: int | None


@dataclass(frozen=True)
class StudyScene:
    key: str  # "<data name>/<scene id>": ids repeat between RealBench and Qualitative
    data: str
    id: str
    task: str
    checksum: str
    target: str  # image id of the target with its missing region in gray
    references: tuple[str, ...]
    ground_truth: str | None
    broken: tuple[str, ...]  # visibly broken fills, for attention checks
    samples: dict[str, tuple[Sample, ...]]  # method key -> the pool participants draw from


@dataclass(frozen=True)
class StudyMethod:
    key: str  # the runs' label
    display: str  # the name in the analysis (never shown to participants)
    runs: tuple[dict[str, Any], ...]  # identity of each run: path, label, method, config_hash, data, checksum


@dataclass(frozen=True)
class StoredImage:
    file: str  # relative to the study folder
    media_type: str
    bytes: int
    sha256: str


@dataclass
class Manifest:
    study_id: str
    created: str
    design: StudyDesign
    methods: tuple[StudyMethod, ...]
    data: tuple[dict[str, Any], ...]
    scenes: tuple[StudyScene, ...]
    images: dict[str, StoredImage]
    dropped: tuple[dict[str, Any], ...] = ()
    attention_reference: str = GROUND_TRUTH  # what the right answer of an attention check is
    provenance: dict[str, Any] = field(default_factory=dict)

    def scene(self, key: str) -> StudyScene:
        for scene in self.scenes:
            if scene.key == key:
                return scene
        raise RealBenchError(f"the study has no scene '{key}'")

    def method(self, key: str) -> StudyMethod:
        for method in self.methods:
            if method.key == key:
                return method
        raise RealBenchError(f"the study has no method '{key}'")

    def identity(self) -> dict[str, Any]:
        """What produced the study, for every table made from it."""
        return {"study_id": self.study_id, "kind": self.design.kind, "seed": self.design.seed,
                "design": self.design.to_dict(),
                "methods": [{"key": m.key, "display": m.display, "runs": list(m.runs)} for m in self.methods],
                "data": list(self.data), "scenes": len(self.scenes)}

    def to_json(self) -> str:
        data = asdict(self)
        data["design"] = self.design.to_dict()
        return json.dumps({"format": FORMAT, "schema": SCHEMA, **data}, indent=1, allow_nan=False)


def write_manifest(folder: Path, manifest: Manifest) -> None:
    atomic_write_bytes(folder / MANIFEST_FILE, manifest.to_json().encode("utf-8"))


def read_manifest(folder: Path) -> Manifest:
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        raise RealBenchError("not a study folder (no manifest.json; make one with `realbench study make`)",
                             path=str(folder))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT:
            raise ValueError("not a realbench study manifest")
        if raw.get("schema") != SCHEMA:
            raise ValueError(f"schema {raw.get('schema')} (this realbench reads {SCHEMA})")
        return _from_dict(raw)
    except RealBenchError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RealBenchError(f"cannot read the study manifest ({exc})", path=str(path)) from None


def _from_dict(raw: dict[str, Any]) -> Manifest:
    scenes = tuple(
        StudyScene(s["key"], s["data"], s["id"], s["task"], s["checksum"], s["target"], tuple(s["references"]),
                   s["ground_truth"], tuple(s["broken"]),
                   {k: tuple(Sample(**x) for x in v) for k, v in s["samples"].items()})
        for s in raw["scenes"])
    methods = tuple(StudyMethod(m["key"], m["display"], tuple(m["runs"])) for m in raw["methods"])
    images = {k: StoredImage(**v) for k, v in raw["images"].items()}
    manifest = Manifest(raw["study_id"], raw["created"], StudyDesign.from_dict(raw["design"]), methods,
                        tuple(raw["data"]), scenes, images, tuple(raw.get("dropped", ())),
                        raw.get("attention_reference", GROUND_TRUTH), dict(raw.get("provenance", {})))
    for scene in scenes:
        for image in (scene.target, *scene.references, *scene.broken,
                      *([scene.ground_truth] if scene.ground_truth else []),
                      *(s.image for pool in scene.samples.values() for s in pool)):
            if image not in images:
                raise ValueError(f"scene '{scene.key}' names image '{image}', which the study does not hold")
    return manifest
