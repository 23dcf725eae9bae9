"""Everything a plugin author needs, in one import::

    from realbench.plugins import METHODS, Method, MethodInfo, Output, setting

A method (``Method``, registered in ``METHODS``), a metric (``Metric`` in ``METRICS``), a benchmark
(``BenchmarkDefinition`` with its ``SceneLayout``, in ``BENCHMARKS``), a base model for RealFill
(``Backbone`` in ``BACKBONES``), their typed settings (``setting``, ``nested``, ``Number``), the
``Scene`` they receive, the one error type, and pretrained weights (``WeightSpec``,
``register_weights``, ``resolve``). Outside the repository a plugin runs as ``--method
pkg.module:Class``; inside, it is one new file in its folder (ARCHITECTURE.md).
"""
from __future__ import annotations

from .core.errors import RealBenchError, RealBenchWarning
from .core.scene import Scene
from .core.settings import Number, nested, setting
from .data.benchmarks import BENCHMARKS, BenchmarkDefinition, SceneLayout
from .methods import METHODS, Method, MethodInfo, Output
from .methods.backbones import BACKBONES, Backbone
from .metrics import METRICS, Metric, MetricInfo
from .weights import WeightSpec, register_weights, resolve

__all__ = ["BACKBONES", "BENCHMARKS", "METHODS", "METRICS", "Backbone", "BenchmarkDefinition", "Method", "MethodInfo",
           "Metric", "MetricInfo", "Number", "Output", "RealBenchError", "RealBenchWarning", "Scene", "SceneLayout",
           "WeightSpec", "nested", "register_weights", "resolve", "setting"]
