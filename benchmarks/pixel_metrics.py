"""Speed of the weight-free pieces at RealBench's resolution (512x512), on this machine.

Prints per-call times for masked PSNR and SSIM (ours vs. scikit-image's full SSIM map, which
gives the same numbers), Telea inpainting, and the whole `evaluate` loop per sample.
Run: python benchmarks/pixel_metrics.py
"""
from __future__ import annotations

import tempfile
import time

import numpy as np
from skimage.metrics import structural_similarity

from realbench.metrics.psnr import masked_psnr
from realbench.metrics.ssim import masked_ssim


def timeit(fn, repeat: int = 10) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    pred = np.clip(gt + rng.normal(0, 20, gt.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((512, 512), bool)
    mask[100:400, 50:300] = True

    def skimage_ssim():
        _, full = structural_similarity(gt, pred, channel_axis=2, gaussian_weights=True, data_range=255, full=True)
        return full.mean(axis=2)[mask].mean()

    t_psnr = timeit(lambda: masked_psnr(pred, gt, mask))
    t_ssim = timeit(lambda: masked_ssim(pred, gt, mask))
    t_sk = timeit(skimage_ssim)
    print(f"masked PSNR 512x512:            {t_psnr * 1e3:8.2f} ms")
    print(f"masked SSIM 512x512 (realbench): {t_ssim * 1e3:8.2f} ms")
    print(f"masked SSIM 512x512 (skimage):   {t_sk * 1e3:8.2f} ms  ({t_sk / t_ssim:.1f}x slower)")
    print(f"  |difference| = {abs(skimage_ssim() - masked_ssim(pred, gt, mask)):.2e}")

    from realbench import evaluate, load_benchmark

    bench = load_benchmark("sample")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        evaluate("telea", bench, samples=4, out=f"{tmp}/run", progress=False)
        total = time.perf_counter() - start
    n = 4 * len(bench)
    print(f"evaluate telea on sample (256x256), {n} samples: {total:6.2f} s  ({total / n * 1e3:.1f} ms/sample, "
          "incl. PNG writes and records)")


if __name__ == "__main__":
    main()
