"""What a run is made of, built from names: the method adapter, the metrics (with their weights
found before any work), metric names expanded through the benchmark's metric sets."""
from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from typing import Any

from realbench.core.errors import RealBenchError, describe
from realbench.core.paths import printable
from realbench.core.provenance import canonical_json
from realbench.core.words import count
from realbench.data.benchmarks import BenchmarkDefinition, get_definition
from realbench.methods import METHODS, Method
from realbench.metrics import METRICS, Metric
from realbench.selection import correspondences  # noqa: F401  (the seed-selection matcher declares its weights)
from realbench.weights import SPECS, WeightsMissing, is_hub_id, resolve

_METRIC_INSTANCES: dict[tuple, Any] = {}


def resolve_method(name: str, config: dict[str, Any] | None = None) -> Method:
    """A registered method, ``module:Class``, or ``folder:PATH`` for images made elsewhere."""
    if name.startswith("folder:"):  # the registered "folder" method, its path given in the name
        name, config = "folder", {**(config or {}), "path": name[len("folder:"):]}
    cls = METHODS.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise RealBenchError(f"'{name}' is not a realbench method (a subclass of realbench.methods.Method)")
    return cls(config or {})


def expand_metric_names(names: Iterable[str], definition: BenchmarkDefinition | None = None) -> list[str]:
    """Metric names with the benchmark's sets (``table1``), ``default`` and ``none`` expanded,
    order kept, duplicates dropped."""
    return (definition or get_definition()).expand_metrics(names)


def resolve_metrics(names: Iterable[str], weights: dict[str, str] | None = None,
                    options: dict[str, dict[str, Any]] | None = None, skip_unavailable: bool = False,
                    device: str | None = None) -> tuple[dict[str, Metric], dict[str, str]]:
    """Instantiate metrics (``names`` already expanded: ``expand_metric_names``, once per run) and
    check their weights *before* any work.

    Returns (usable metrics, unavailable metric -> reason). Missing weights are one error that
    lists everything missing, unless ``skip_unavailable`` records those metrics as unavailable.
    """
    names = list(names)
    options = options or {}
    for name in options:
        if name not in names:
            raise RealBenchError(f"--metric-set given for '{name}', which is not among the metrics "
                                 f"({', '.join(names)})")
    classes = {name: METRICS.get(name) for name in names}  # unknown names fail here, with a hint
    for name, cls in classes.items():
        if not (isinstance(cls, type) and issubclass(cls, Metric)):
            raise RealBenchError(f"'{name}' is not a realbench metric (a subclass of realbench.metrics.Metric)")
    built = {}
    for name, cls in classes.items():
        key = (name, canonical_json(options.get(name, {})), canonical_json(weights or {}), device,
               os.environ.get("REALBENCH_WEIGHTS_DIR"))
        scorer = _METRIC_INSTANCES.get(key) or cls(weights=weights, device=device, **options.get(name, {}))
        built[name] = (key, scorer, scorer.required_weights())  # asking declares names such as CLIP's per tag
    check_weight_names(weights)
    scorers, missing = {}, {}
    for name, (key, scorer, needed) in built.items():
        problems = []
        for weights_name in needed:
            try:
                resolve(weights_name, weights)
            except WeightsMissing as exc:
                problems.append(str(exc))
        if problems:
            missing[name] = " ".join(problems)
            continue
        _METRIC_INSTANCES[key] = scorer
        scorers[name] = scorer
    if missing and not skip_unavailable:
        raise RealBenchError(
            f"missing weights for {count(len(missing), 'metric')}, nothing was run (fetch them, or pass "
            "--skip-unavailable to record those metrics as unavailable):",
            details=[f"metric '{n}': {reason}" for n, reason in missing.items()])
    for name, scorer in scorers.items():
        try:
            scorer.load()
        except RealBenchError:
            raise
        except Exception as exc:
            raise RealBenchError(f"metric '{name}' could not load its model ({describe(exc)})") from None
    return scorers, missing


def declare_plugin_weights() -> None:
    """Put every plugin's weights under its default settings into ``SPECS``: most are declared at
    import, some only when first asked for (CLIP's, one name per OpenCLIP tag)."""
    for name in METRICS.names():
        cls = METRICS.get(name)
        info = getattr(cls, "info", None)
        if isinstance(cls, type) and issubclass(cls, Metric) and getattr(info, "needs_weights", False):
            try:
                cls().required_weights()
            except Exception:  # noqa: BLE001  (a broken plugin shows up when it is used, not here)
                continue
    for name in METHODS.names():
        cls = METHODS.get(name)
        needs = getattr(cls, "required_weights", None)
        if needs is not None and getattr(getattr(cls, "info", None), "needs_weights", False):
            try:
                needs(cls.default_config)
            except Exception:  # noqa: BLE001
                continue


def check_weight_names(weights: dict[str, str] | None) -> None:
    """Every ``--weights NAME=PATH`` names weights some plugin declares (a typo is one error with
    a suggestion, not a setting silently ignored)."""
    if not weights:
        return
    declare_plugin_weights()
    known = sorted(SPECS)
    for name in weights:
        if name not in SPECS and not is_hub_id(name):
            close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise RealBenchError(f"unknown weights name '{printable(name)}'{hint} (known: {', '.join(known)})")
