"""What one participant sees, as a pure function of the study and their slot (the order they
arrived in): which scenes, in which order, which sample of each method, where each option is
placed, and where the attention checks go. The server records each plan in the database when a
participant arrives; the same study seed always gives the same plans ("All method outputs are
randomly sampled without human intervention. For each scene, the placement ... of different
method outputs are also randomly shuffled").

Randomness comes from SHA-256 of (seed, purpose, slot, scene) fed to ``random.Random``, using
only ``random()``, whose sequence Python guarantees across versions, so a plan is the same on
every machine and Python.
"""
from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from .manifest import Manifest, StudyScene

T = TypeVar("T")
SCENE, ATTENTION = "scene", "attention"
METHOD, GROUND_TRUTH, BROKEN = "method", "ground-truth", "broken"


class Draws:
    """A seeded stream of draws, stable across Python versions and machines."""

    def __init__(self, *key: object):
        digest = hashlib.sha256(repr(key).encode("utf-8")).digest()
        self._random = random.Random(int.from_bytes(digest[:16], "big"))

    def below(self, n: int) -> int:
        return min(int(self._random.random() * n), n - 1)

    def shuffled(self, items: Sequence[T]) -> list[T]:
        out = list(items)
        for i in range(len(out) - 1, 0, -1):  # Fisher-Yates
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out


@dataclass(frozen=True)
class Option:
    image: str
    source: str  # METHOD, GROUND_TRUTH or BROKEN
    method: str | None = None  # the method key, for METHOD options
    sample: int | None = None  # the index in the method's pool

    @property
    def choice(self) -> str:
        """What a vote for this option counts for in the analysis."""
        return self.method if self.source == METHOD and self.method is not None else self.source


@dataclass(frozen=True)
class PlanItem:
    position: int
    kind: str  # SCENE or ATTENTION
    scene: str  # the scene's key
    options: tuple[Option, ...]  # in the order they are shown


def participant_plan(manifest: Manifest, slot: int) -> list[PlanItem]:
    seed = manifest.design.seed
    scenes = Draws(seed, "order", slot).shuffled(_scenes_for(manifest, slot))
    items = [(SCENE, scene.key, _scene_options(manifest, scene, Draws(seed, "scene", slot, scene.key)))
             for scene in scenes]
    for position, item in sorted(_attention(manifest, slot, len(items)).items()):
        items.insert(position, item)
    return [PlanItem(index, kind, key, tuple(options)) for index, (kind, key, options) in enumerate(items)]


def _scenes_for(manifest: Manifest, slot: int) -> list[StudyScene]:
    """Every scene, or a balanced share: consecutive runs of one seeded permutation, so scenes are
    seen about equally often whatever the number of participants."""
    count = manifest.design.scenes_per_participant
    scenes = list(manifest.scenes)
    if count is None or count >= len(scenes):
        return scenes
    order = Draws(manifest.design.seed, "share").shuffled(scenes)
    start = slot * count
    return [order[(start + i) % len(order)] for i in range(count)]


def _scene_options(manifest: Manifest, scene: StudyScene, draws: Draws) -> list[Option]:
    options = []
    for method in manifest.methods:
        pool = scene.samples[method.key]
        index = draws.below(len(pool))
        options.append(Option(pool[index].image, METHOD, method.key, index))
    if manifest.design.kind == "versus-ground-truth" and scene.ground_truth:
        options.append(Option(scene.ground_truth, GROUND_TRUTH))
    return draws.shuffled(options)


def attention_count(manifest: Manifest, scene_items: int) -> int:
    rate = manifest.design.attention_rate
    eligible = [s for s in manifest.scenes if s.broken]
    return math.ceil(rate * scene_items) if rate > 0 and eligible and scene_items else 0


def _attention(manifest: Manifest, slot: int, scene_items: int) -> dict[int, tuple[str, str, list[Option]]]:
    """Attention checks at seeded positions (never the first item): a real completion, the ground
    truth where there is one, against visibly broken fills, as many options as a normal item."""
    count = attention_count(manifest, scene_items)
    if not count:
        return {}
    draws = Draws(manifest.design.seed, "attention", slot)
    eligible = draws.shuffled([s for s in manifest.scenes if s.broken])
    positions = sorted(draws.shuffled(range(1, scene_items + count))[:count])
    out = {}
    for n, position in enumerate(positions):
        scene = eligible[n % len(eligible)]
        if scene.ground_truth:
            right = Option(scene.ground_truth, GROUND_TRUTH)
        else:  # a set without ground truth: a real method output is the right answer
            method = manifest.methods[draws.below(len(manifest.methods))].key
            index = draws.below(len(scene.samples[method]))
            right = Option(scene.samples[method][index].image, METHOD, method, index)
        options = [right, *(Option(image, BROKEN) for image in scene.broken)]
        out[position] = (ATTENTION, scene.key, draws.shuffled(options))
    return out


def steps(plan: Sequence[PlanItem], questions: Sequence[str]) -> list[tuple[int, str]]:
    """(position, question) in the order they are asked: per item, every question in turn."""
    return [(item.position, question) for item in plan for question in questions]
