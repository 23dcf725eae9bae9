"""The Python API: the functions the CLI calls, one import away for notebooks.

This is the top layer: it puts running (``runner.run``) and summarising (``results``, ``tables``,
``report``) together, the way ``realbench evaluate`` does. Everything below it can be used on its own.
"""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from .core.jsonio import read_json
from .data.hfdata import export_benchmark
from .data.loading import Benchmark, load_benchmark
from .run.merging import merge_runs
from .run.runconfig import RunConfig
from .run.runfolder import RunFolder
from .run.runmeta import RunMeta
from .run.runner import RunOutcome, run
from .summarise.report import Report, build_report
from .summarise.results import write_summary
from .summarise.runview import read_run
from .summarise.summary import scene_summary, select_top
from .summarise.tables import CheckResult, check, compare, leaderboard

__all__ = ["Benchmark", "CheckResult", "Report", "RunConfig", "RunResult", "build_report", "check", "compare",
           "evaluate", "export_benchmark", "leaderboard", "load_benchmark", "merge"]


@dataclass
class RunResult:
    """A run folder and its ``run.json`` (typed: ``RunMeta``); accepted wherever a run folder is
    (tables, report). ``outcome`` says what the command that made it did (made, rescored)."""

    run_dir: Path
    meta: RunMeta
    outcome: RunOutcome | None = None

    def __repr__(self) -> str:
        return f"RunResult({self.meta.label!r}, data={self.meta.data.name!r}, {str(self.run_dir)!r})"

    def records(self) -> pd.DataFrame:
        """One row per sample: identity, fallback and one column per metric."""
        return read_run(self.run_dir).records

    def summary(self, keep: int | None = None) -> pd.DataFrame:
        """Per-scene means and the mean over scenes; with ``keep``, over the K best-ranked samples."""
        view = read_run(self.run_dir)
        records = select_top(view.records, keep=keep) if keep else view.records
        return scene_summary(records, view.metrics, list(view.unavailable))

    def results(self) -> dict[str, Any]:
        """The run's ``results.json``: means, standard errors, splits, identity and protocols."""
        return read_json(RunFolder(self.run_dir).results_path, "results.json")


_FIELDS = [f.name for f in fields(RunConfig)]


def evaluate(method: RunConfig | str, /, data: Any = None, **options: Any) -> RunResult:
    """Run a method on a benchmark, score every sample, record it all and write the summaries;
    rerun with the same ``out`` to resume.

    Either one ``RunConfig``, or its fields as arguments: ``evaluate("telea", bench, out="runs/t",
    method_config={"radius": 3})``. ``method``: a registered name (``realbench methods``),
    ``folder:PATH`` (images made elsewhere) or ``module:Class``; ``data``: ``"sample"``, a
    RealBench folder or zip, a saved dataset, a hub id, or a ``Benchmark``; ``metrics``: names or
    the benchmark's sets (``"table1"``, ``"none"``). Everything is validated, the weights found and
    (for Ray) the cluster reached before anything is written.
    """
    if isinstance(method, RunConfig):
        if data is not None or options:
            raise TypeError("evaluate(RunConfig) takes no other arguments; set them on the RunConfig")
        config = method
    else:
        for name in options:
            if name not in _FIELDS:
                close = difflib.get_close_matches(name, _FIELDS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise TypeError(f"evaluate() got an unexpected keyword argument '{name}'{hint}")
        config = RunConfig(method, **({"data": data} if data is not None else {}), **options)
    outcome = run(config)
    write_summary(outcome.folder.path, keep=config.keep)
    return RunResult(outcome.folder.path, outcome.meta, outcome)


def _evaluate_signature() -> inspect.Signature:
    """``evaluate``'s signature as ``help()`` and IDEs show it: RunConfig's fields, one source."""
    kinds = {"data": inspect.Parameter.POSITIONAL_OR_KEYWORD}
    params = [inspect.Parameter("method", inspect.Parameter.POSITIONAL_ONLY, annotation="RunConfig | str")]
    for f in fields(RunConfig):
        if f.name == "method":
            continue
        default = f.default if f.default is not MISSING else None  # default_factory fields: None is accepted
        params.append(inspect.Parameter(f.name, kinds.get(f.name, inspect.Parameter.KEYWORD_ONLY), default=default,
                                        annotation=f.type))
    return inspect.Signature(params, return_annotation="RunResult")


evaluate.__signature__ = _evaluate_signature()  # type: ignore[attr-defined]


def merge(shards: Sequence[str | Path], out: str | Path | None = None, partial: bool = False) -> RunResult:
    """Combine the shard folders of one run (folders, glob patterns or a parent folder of shards)
    into ``out`` (default: their common name without ``-shard-IofN``) and write its summaries."""
    path = merge_runs(shards, out, partial=partial)
    write_summary(path)
    return RunResult(path, RunFolder(path).read_meta())

