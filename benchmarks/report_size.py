"""Size and build time of `realbench report` at RealBench scale: 33 scenes of 512x512 with up to
five references, 4 methods x 16 samples each (synthetic images; the page budget is 30 MB).
Run: python benchmarks/report_size.py [--scenes 33 --methods 4 --samples 16]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=33)
    parser.add_argument("--methods", type=int, default=4)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    from conftest import photo  # smooth random photos

    from realbench import evaluate
    from realbench.report import build_report

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rng = np.random.default_rng(0)
        for s in range(args.scenes):
            folder = root / "data" / f"scene{s:02d}"
            (folder / "ref").mkdir(parents=True)
            (folder / "target").mkdir()
            gt = photo(512, 512, s)
            mask = np.zeros((512, 512), np.uint8)
            mask[:, : 150 + s] = 255
            target = gt.copy()
            target[mask > 0] = 255
            for name, array in (("gt", gt), ("target", target), ("mask", mask)):
                Image.fromarray(array).save(folder / "target" / f"{name}.png")
            for r in range(1 + s % 5):
                Image.fromarray(photo(480, 640, 100 * s + r)).save(folder / "ref" / f"{r}.jpg", quality=90)
        runs = []
        start = time.perf_counter()
        for m in range(args.methods):
            outputs = root / f"outputs{m}"
            for s in range(args.scenes):
                (outputs / f"scene{s:02d}").mkdir(parents=True)
                base = photo(512, 512, s)
                for k in range(args.samples):
                    noisy = np.clip(base + rng.normal(0, 10 + 5 * m, base.shape), 0, 255).astype(np.uint8)
                    Image.fromarray(noisy).save(outputs / f"scene{s:02d}" / f"{k:02d}.png", compress_level=1)
            runs.append(evaluate(f"folder:{outputs}", str(root / "data"), out=root / f"run{m}", progress=False,
                                 method_config={"composite": True}).run_dir)
        print(f"prepared {args.scenes} scenes x {args.methods} methods x {args.samples} samples "
              f"in {time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        page = build_report(runs, root / "site" / "report.html")
        size = page.stat().st_size / 2 ** 20
        beside = sum(p.stat().st_size for p in (root / "site" / "report_files").rglob("*") if p.is_file()) / 2 ** 20
        print(f"report built in {time.perf_counter() - start:.1f} s: page {size:.1f} MiB "
              f"(budget 30 MB), full-size scene images beside it {beside:.0f} MiB")


if __name__ == "__main__":
    main()
