"""Metrics, one file each, registered lazily by name (heavy imports happen on first use)."""
from realbench.registry import Registry

from .base import Metric, MetricInfo

METRICS = Registry("metric")
METRICS.add_lazy("psnr", "metrics.psnr:PSNR")
METRICS.add_lazy("ssim", "metrics.ssim:SSIM")

# Table 1 of RealFill, in the paper's column order; learned metrics join as they are added.
DEFAULT_METRICS = ("psnr", "ssim")

__all__ = ["METRICS", "DEFAULT_METRICS", "Metric", "MetricInfo"]
