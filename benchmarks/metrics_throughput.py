"""Throughput of the metric suite on one 512x512 scene with 64 samples, full-size architectures.

AlexNet LPIPS, DINO ViT-S/16 and OpenCLIP ViT-B/32 are built with *random* weights (speed does not
depend on the values) and saved where the resolver looks, so the timed path is the real one.
Compares the naive per-pair loop (batch 1, ground-truth side recomputed for every sample) with
the harness path (ground-truth cache + batches of 16). Prints samples/s per metric and peak RSS.
Run: python benchmarks/metrics_throughput.py [--samples 64]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def scene_and_samples(n: int):
    from realbench.core.scene import Scene

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (65, 65, 3), dtype=np.uint8)
    import cv2

    gt = cv2.resize(small, (512, 512), interpolation=cv2.INTER_CUBIC)
    mask = np.zeros((512, 512), bool)
    mask[:, :200] = True
    target = gt.copy()
    target[mask] = 255
    scene = Scene("bench", "outpaint", (gt,), target, mask, gt)
    samples = []
    for _k in range(n):
        image = gt.copy()
        noise = rng.normal(0, 30, gt.shape)
        image[mask] = np.clip(gt + noise, 0, 255).astype(np.uint8)[mask]
        samples.append(image)
    return scene, samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=64)
    args = parser.parse_args()
    import torch

    from realbench.metrics import METRICS

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}")
    with tempfile.TemporaryDirectory() as tmp:
        from replicas import full_size_metric_weights

        full_size_metric_weights(Path(tmp))
        os.environ["REALBENCH_WEIGHTS_DIR"] = tmp
        scene, samples = scene_and_samples(args.samples)
        options: dict = {}
        names = ["psnr", "ssim", "lpips", "dino", "clip"]
        total_naive = total_fast = 0.0
        print(f"{'metric':8s} {'naive samples/s':>16s} {'cached+batched':>16s} {'speed-up':>9s}  max |diff|")
        for name in names:
            cls = METRICS.get(name)
            metric = cls(**options.get(name, {}), **({"batch_size": 1} if cls.info.needs_weights else {}))
            metric.load()
            metric.score(metric.prepare(scene), scene, samples[:1])  # warm-up
            start = time.perf_counter()
            naive = [metric.score(metric.prepare(scene), scene, [s])[0] for s in samples]
            t_naive = time.perf_counter() - start

            fast_metric = cls(**options.get(name, {}), **({"batch_size": 16} if cls.info.needs_weights else {}))
            fast_metric.load()
            start = time.perf_counter()
            fast = fast_metric.score(fast_metric.ground_truth_state(scene), scene, samples)
            t_fast = time.perf_counter() - start
            total_naive += t_naive
            total_fast += t_fast
            n = len(samples)
            print(f"{name:8s} {n / t_naive:16.1f} {n / t_fast:16.1f} {t_naive / t_fast:8.2f}x  "
                  f"{np.max(np.abs(np.array(naive) - np.array(fast))):.1e}")
        n = len(samples)
        print(f"{'suite':8s} {n / total_naive:16.1f} {n / total_fast:16.1f} {total_naive / total_fast:8.2f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"peak resident memory: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
