"""Metrics, one file each. A module registers its class with ``@METRICS.register("name")``; the
registry finds the modules of this package on first use, so a new metric is one new file."""
from .base import METRICS, Metric, MetricInfo

__all__ = ["METRICS", "Metric", "MetricInfo"]
