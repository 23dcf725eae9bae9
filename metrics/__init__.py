"""Metrics, one file each, registered lazily by name (heavy imports happen on first use)."""
from realbench.registry import Registry

from .base import Metric, MetricInfo

METRICS = Registry("metric")
METRICS.add_lazy("psnr", "metrics.psnr:PSNR")
METRICS.add_lazy("ssim", "metrics.ssim:SSIM")
METRICS.add_lazy("ssim_opencv", "metrics.ssim:OpenCVSSIM")
METRICS.add_lazy("lpips", "metrics.masked_lpips:MaskedLPIPS")
METRICS.add_lazy("lpips_bbox", "metrics.masked_lpips:BBoxLPIPS")
METRICS.add_lazy("lpips_zeroed", "metrics.masked_lpips:ZeroedLPIPS")
METRICS.add_lazy("dreamsim", "metrics.dreamsim_distance:DreamSim")
METRICS.add_lazy("dino", "metrics.dino_similarity:DINO")
METRICS.add_lazy("dino_crop", "metrics.dino_similarity:CroppedDINO")
METRICS.add_lazy("dinov2", "metrics.dino_similarity:DINOv2")
METRICS.add_lazy("clip", "metrics.clip_similarity:CLIP")

# Weight-free by default, so a run never needs a download it was not asked for.
DEFAULT_METRICS = ("psnr", "ssim")
# RealFill's Table 1, in the paper's column order (`--metrics table1`).
TABLE1 = ("psnr", "ssim", "lpips", "dreamsim", "dino", "clip")
ALIASES = {"table1": TABLE1, "default": DEFAULT_METRICS}

__all__ = ["ALIASES", "DEFAULT_METRICS", "METRICS", "TABLE1", "Metric", "MetricInfo"]
