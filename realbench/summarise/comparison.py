"""``realbench compare``: two runs scene by scene. "Better" only when the 95 % interval of the
paired difference excludes 0 (else "no significant difference"), flagged as weak when the
bootstrap interval or the Wilcoxon test disagree (``stats.paired_test``)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from realbench.core.errors import RealBenchError
from realbench.core.fields import text_list

from .formatting import arrow
from .runview import metric_info, read_runs
from .stats import paired_test
from .summary import scene_means


def compare(run_a: Any, run_b: Any, metrics: Sequence[str] | str | None = None,
            allow_mixed_data: bool = False) -> pd.DataFrame:
    """Per metric, over the scenes both runs scored: both means, the mean paired difference
    (B - A) with its 95 % t interval, the bootstrap interval, t-test and Wilcoxon p-values, and a
    verdict that says "better" only when the t interval excludes 0 (else "no significant
    difference"), flagged as weak when the other two disagree."""
    view_a, view_b = read_runs([run_a, run_b], allow_mixed_data, allow_same=True)
    if isinstance(metrics, str):  # "psnr" or "psnr,ssim", as on the command line
        metrics = text_list(metrics)
    if metrics is None:
        metrics = [m for m in view_a.metrics if m in view_b.metrics]
    a = scene_means(view_a.records, metrics).set_index("scene")
    b = scene_means(view_b.records, metrics).set_index("scene")
    common = sorted(set(a.index) & set(b.index), key=view_a.sort_key)
    if not common:
        raise RealBenchError("the two runs share no scene", path=f"{view_a.path}, {view_b.path}")
    rows = []
    for m in metrics:
        x, y = a.loc[common, m].to_numpy(float), b.loc[common, m].to_numpy(float)
        higher = bool(metric_info(m, [view_a, view_b])["higher_is_better"])
        result = paired_test(x, y, higher_is_better=higher)
        verdict = {"B better": f"B ({view_b.label}) better", "A better": f"A ({view_a.label}) better"}.get(
            result["verdict"], result["verdict"])
        rows.append({"metric": f"{m} {arrow(higher)}", "scenes": len(common), "A": float(np.mean(x)),
                     "B": float(np.mean(y)), "B - A": result["mean_diff"], "ci95 low": result["ci_low"],
                     "ci95 high": result["ci_high"], "bootstrap low": result["boot_low"],
                     "bootstrap high": result["boot_high"], "p (t-test)": result["p_ttest"],
                     "p (Wilcoxon)": result["p_wilcoxon"], "verdict": verdict, "note": result["note"]})
    return pd.DataFrame(rows)
