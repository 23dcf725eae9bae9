"""The three LPIPS conventions side by side on real scenes (default: ../shared/realbench-dev),
with `telea` (reference-free) as the simple method. Used for the table in metrics/README.md.

If the ImageNet AlexNet trunk is not on this machine, the script says so loudly and uses a
randomly initialised trunk (the lpips package's linear layers are always the real ones): the
numbers then only illustrate how the conventions differ, not real LPIPS values.
Run: python benchmarks/lpips_variants.py [--data DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "realbench-dev"))
    args = parser.parse_args()
    from realbench import evaluate
    from realbench.summarise.tables import scene_summary, to_markdown
    from realbench.weights import WeightsMissing, resolve

    tmp = tempfile.mkdtemp()
    try:
        resolve("alexnet")
        print("AlexNet trunk: pretrained (ImageNet)")
    except WeightsMissing:
        from replicas import alexnet_file

        os.environ["REALBENCH_WEIGHTS_DIR"] = tmp
        alexnet_file(Path(tmp), seed=0)
        print("!! AlexNet trunk: RANDOM (pretrained weights not on this machine); numbers illustrate the "
              "conventions only !!")
    metrics = ["psnr", "lpips", "lpips_bbox", "lpips_zeroed"]
    run = evaluate("telea", args.data, metrics=metrics, out=Path(tmp) / "run", progress=False)
    summary = scene_summary(run.records(), metrics)
    print(to_markdown(summary.drop(columns=["samples"])))


if __name__ == "__main__":
    main()
