"""Numbers you can trust: bootstrap confidence intervals over scenes and paired comparisons.

Scenes are the unit of resampling (the protocol averages scene means), so every interval here
resamples scenes with replacement; seeds are fixed so intervals are reproducible.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

BOOTSTRAP = 10000


def bootstrap_ci(values: Sequence[float], level: float = 0.95, resamples: int = BOOTSTRAP,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` (one value per scene)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0 or not np.isfinite(values).all():
        return float("nan"), float("nan")
    if len(values) == 1:
        return float(values[0]), float(values[0])
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1.0 - alpha))


def paired_test(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Paired differences b - a over scenes: mean, bootstrap CI, t-test and Wilcoxon p-values."""
    from scipy import stats

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = b - a
    out = {"mean_diff": float(diff.mean()) if len(diff) else float("nan")}
    out["ci_low"], out["ci_high"] = bootstrap_ci(diff)
    if len(diff) >= 2 and np.isfinite(diff).all() and np.any(diff != diff[0]):
        out["p_ttest"] = float(stats.ttest_rel(b, a).pvalue)
        out["p_wilcoxon"] = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    else:
        out["p_ttest"] = out["p_wilcoxon"] = float("nan")
    return out
