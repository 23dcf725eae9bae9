"""Named protocols from the paper, so a row is reproduced by name rather than by remembering
settings: ``realbench evaluate --preset table1-transfill`` is homography-warp under TransFill's
single-reference protocol ("for TransFill, the metrics are averaged over different choices of
single reference image", RealFill Table 1). A preset fills the method, its settings and the
metrics; flags given beside it win."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from realbench.core.errors import RealBenchError


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    method: str
    method_config: dict[str, Any] = field(default_factory=dict)
    metrics: tuple[str, ...] = ("table1",)
    label: str | None = None


PRESETS = {p.name: p for p in (
    Preset("table1-transfill", "RealFill Table 1's TransFill row: homography-warp with one reference per sample, "
           "metrics averaged over the single-reference choices", "homography-warp", {"references": "one"},
           label="TransFill protocol (homography-warp, one reference)"),
    Preset("table1-realfill", "RealFill Table 1's RealFill row: the paper's recipe, 64 samples per scene, "
           "the six metrics", "realfill"),
    Preset("table1-paint-by-example", "RealFill Table 1's Paint-by-Example row: one reference per sample, drawn "
           "by the seed", "paint-by-example"),
    Preset("fig10-dreambooth", "RealFill Fig. 10: DreamBooth (a text-to-image model fine-tuned on the references, "
           "known latents blended every step) at strength 1.0", "dreambooth"),
    Preset("fig11-variants", "RealFill Fig. 11: scene variants from a blank canvas (generation only)", "realfill",
           {"sample": {"canvas": "blank"}}, metrics=("none",)),
)}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        close = difflib.get_close_matches(name, list(PRESETS), n=2, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise RealBenchError(f"unknown preset '{name}'.{hint} Known: {', '.join(PRESETS)}.")
    return PRESETS[name]


def merged(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``base`` settings with ``given`` on top, nested groups merged key by key."""
    out = dict(base)
    for key, value in given.items():
        out[key] = merged(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out
