"""How large `realbench report` is against what it shows: the bytes of the scene set's own image
files (references, target, mask, ground truth) against the report's bytes (page and image folder),
per scene and per run, for a report of two runs (telea and homography-warp, one sample each, plus a
16-sample folder:PATH run to show the best/worst/ranked samples). The target: a report of two runs
is at most 1.5x the scene set's image bytes.

Run: python benchmarks/report_size.py [--data ../shared/realbench-dev] [--samples 16]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def input_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def noisy_outputs(bench, root: Path, samples: int) -> Path:
    """A folder:PATH of ``samples`` noisy copies of each ground truth (stands in for a stochastic method)."""
    rng = np.random.default_rng(0)
    for scene in bench:
        folder = root / scene.id
        folder.mkdir(parents=True)
        for k in range(samples):
            noisy = np.clip(scene.gt.astype(np.int16) + rng.integers(-12, 13, scene.gt.shape), 0, 255)
            Image.fromarray(noisy.astype(np.uint8)).save(folder / f"{k:02d}.png", compress_level=1)
    return root


def measure(runs, out: Path, inputs: int, scenes: int, what: str) -> None:
    from realbench.summarise.report import build_report

    started = time.perf_counter()
    report = build_report(runs, out)
    seconds = time.perf_counter() - started
    total = report.total_bytes
    print(f"{what:44s} {total / 2**20:7.2f} MiB = {total / max(scenes, 1) / 2**10:7.0f} KiB/scene, "
          f"{total / max(scenes, 1) / len(runs) / 2**10:6.0f} KiB/scene/run; {total / inputs:4.2f}x the inputs "
          f"({'self-contained' if report.self_contained else 'with a files folder'}, {seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "realbench-dev"))
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    from realbench import evaluate, load_benchmark

    data = Path(args.data)
    if not data.is_dir():
        sys.exit(f"no scenes at {data}; pass --data")
    bench = load_benchmark(str(data))
    inputs = input_bytes(data)
    print(f"scene set: {len(bench)} scenes, {inputs / 2**20:.2f} MiB of image files "
          f"({inputs / len(bench) / 2**10:.0f} KiB per scene)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        telea = evaluate("telea", bench, out=root / "telea", progress=False)
        warp = evaluate("homography-warp", bench, out=root / "warp", progress=False)
        outputs = noisy_outputs(bench, root / "outputs", args.samples)
        many = evaluate(f"folder:{outputs}", bench, out=root / "many", progress=False)
        measure([telea, warp], root / "a" / "report.html", inputs, len(bench), "two runs, 1 sample each")
        measure([telea, many], root / "b" / "report.html", inputs, len(bench),
                f"two runs, 1 and {args.samples} samples (4 shown)")
        measure([telea, warp, many], root / "c" / "report.html", inputs, len(bench), "three runs")
    print("target: a report of two runs is at most 1.5x the inputs")


if __name__ == "__main__":
    main()
