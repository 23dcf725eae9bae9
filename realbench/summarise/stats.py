"""Numbers you can trust: confidence intervals over scenes and paired comparisons, from
``scipy.stats`` (``bootstrap``, ``ttest_rel``, ``wilcoxon``) rather than hand-written copies.

Scenes are the unit of resampling (the protocol averages scene means). A comparison says
"better" or "worse" only when its 95 % interval of the paired difference excludes 0; the interval
is the paired t interval, which agrees with the t-test's p-value by construction. The BCa
bootstrap interval and the Wilcoxon signed-rank p-value are reported beside it, and a verdict
they contradict is flagged: with a handful of scenes the tests often disagree, and then the
difference is weak evidence whatever the t-test says.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

LEVEL = 0.95
BOOTSTRAP = 10000
NO_DIFFERENCE = "no significant difference"


def bootstrap_ci(values: Sequence[float] | np.ndarray, level: float = LEVEL, resamples: int = BOOTSTRAP,
                 seed: int = 0) -> tuple[float, float]:
    """BCa bootstrap interval of the mean of ``values`` (one value per scene), seeded."""
    from scipy import stats

    data = np.asarray(values, dtype=np.float64)
    if len(data) == 0 or not np.isfinite(data).all():
        return float("nan"), float("nan")
    if len(data) == 1 or np.all(data == data[0]):
        return float(data[0]), float(data[0])
    with warnings.catch_warnings():  # BCa warns on tiny samples; the interval is still returned
        warnings.simplefilter("ignore")
        result = stats.bootstrap((data,), np.mean, confidence_level=level, n_resamples=resamples,
                                 method="BCa", rng=np.random.default_rng(seed), vectorized=True)
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):  # degenerate BCa: fall back to percentiles
        result = stats.bootstrap((data,), np.mean, confidence_level=level, n_resamples=resamples,
                                 method="percentile", rng=np.random.default_rng(seed), vectorized=True)
        low, high = result.confidence_interval
    return float(low), float(high)


def paired_test(a: Sequence[float], b: Sequence[float], higher_is_better: bool = True,
                level: float = LEVEL) -> dict:
    """Paired differences ``b - a`` over scenes: mean, t interval, bootstrap interval, t-test and
    Wilcoxon p-values, and a verdict ("B better", "A better", "no significant difference")."""
    from scipy import stats

    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = y - x
    n = len(diff)
    out: dict[str, Any] = {"scenes": n, "mean_diff": float(diff.mean()) if n else float("nan"),
           "ci_low": float("nan"), "ci_high": float("nan"), "boot_low": float("nan"), "boot_high": float("nan"),
           "p_ttest": float("nan"), "p_wilcoxon": float("nan"), "verdict": NO_DIFFERENCE, "note": ""}
    if n == 0 or not np.isfinite(diff).all():
        out["verdict"] = "undefined"
        out["note"] = "non-finite per-scene values" if n else "no common scenes"
        return out
    if np.all(diff == 0):
        out.update(ci_low=0.0, ci_high=0.0, boot_low=0.0, boot_high=0.0, p_ttest=1.0, p_wilcoxon=1.0,
                   note="identical per-scene values")
        return out
    if n < 2:
        out["note"] = "one scene: no test possible"
        return out
    out["boot_low"], out["boot_high"] = bootstrap_ci(diff, level)
    if np.all(diff == diff[0]):  # a constant non-zero shift: no variance, the sign is certain
        out.update(ci_low=float(diff[0]), ci_high=float(diff[0]), p_ttest=0.0)
    else:
        ttest = stats.ttest_rel(y, x)
        interval = ttest.confidence_interval(level)
        out.update(ci_low=float(interval.low), ci_high=float(interval.high), p_ttest=float(ttest.pvalue))
    out["p_wilcoxon"] = float(stats.wilcoxon(y, x).pvalue)
    if out["ci_low"] > 0 or out["ci_high"] < 0:
        b_wins = (out["ci_low"] > 0) == higher_is_better
        out["verdict"] = "B better" if b_wins else "A better"
        alpha = 1.0 - level
        disagree = []
        if out["boot_low"] <= 0 <= out["boot_high"]:
            disagree.append("the bootstrap interval contains 0")
        if out["p_wilcoxon"] >= alpha:
            disagree.append(f"Wilcoxon p = {out['p_wilcoxon']:.3g}")
        if disagree:
            out["note"] = f"weak: {'; '.join(disagree)} ({n} scenes)"
    elif not out["boot_low"] <= 0 <= out["boot_high"]:
        out["note"] = (f"the bootstrap interval excludes 0, but with {n} scenes it is too narrow to trust; "
                       "the t interval decides")
    return out
