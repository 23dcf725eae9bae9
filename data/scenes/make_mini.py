"""Writes data/scenes/realbench-mini/ from the five real dev scenes (../shared/realbench-dev): three
of them (one inpainting, two outpainting), targets at 256x256, references at most 320 px, so the
tests have real photos in the repository (about 0.6 MB). Run: python data/scenes/make_mini.py"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent.parent / "shared" / "realbench-dev"
SCENES = ("churchill", "wormhole", "sacre_coeur")
SIDE, REF_SIDE = 256, 320


def main() -> None:
    out = HERE / "realbench-mini"
    if not SOURCE.is_dir():
        sys.exit(f"no dev scenes at {SOURCE}")
    shutil.rmtree(out, ignore_errors=True)
    for scene in SCENES:
        (out / scene / "ref").mkdir(parents=True)
        (out / scene / "target").mkdir()
        for ref in sorted((SOURCE / scene / "ref").glob("*.jpg")):
            image = Image.open(ref).convert("RGB")
            image.thumbnail((REF_SIDE, REF_SIDE), Image.LANCZOS)
            image.save(out / scene / "ref" / ref.name, quality=88)
        mask = Image.open(SOURCE / scene / "target" / "mask.png").convert("L").resize((SIDE, SIDE), Image.NEAREST)
        binary = (np.asarray(mask) >= 128).astype(np.uint8) * 255
        Image.fromarray(binary).save(out / scene / "target" / "mask.png", optimize=True)
        gt = Image.open(SOURCE / scene / "target" / "gt.png").convert("RGB").resize((SIDE, SIDE), Image.LANCZOS)
        gt.save(out / scene / "target" / "gt.png", optimize=True)
        target = np.asarray(gt).copy()
        target[binary > 0] = 255
        Image.fromarray(target).save(out / scene / "target" / "target.png", optimize=True)
    print(f"wrote {len(SCENES)} scenes to {out}")


if __name__ == "__main__":
    main()
