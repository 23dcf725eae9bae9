"""``realbench`` command line: a thin layer over the Python API (``realbench.evaluate`` etc.).

Every user error ends as one ``error: ...`` line on stderr and exit code 2, never a traceback.
Exit codes: 0 done, 1 ``check`` found a regression, 2 bad input, 3 ``check`` against a baseline
of another metric protocol version, 130 interrupted (Ctrl-C or SIGTERM).
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import math
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .api import RunConfig, build_report, check, compare, evaluate, export_benchmark, leaderboard, load_benchmark, merge
from .benchmarks import BENCHMARKS
from .components import check_weight_names
from .doctor import diagnose, fetch_commands, known_weights
from .errors import NothingToRun, RealBenchError, RealBenchWarning
from .fields import brief
from .figures import KINDS as FIGURE_KINDS
from .formatting import count, table_format, to_text
from .imageio import check_max_pixels, pixel_limit
from .methods import METHODS
from .metrics import METRICS
from .paths import printable
from .presets import PRESETS, get_preset, merged
from .provenance import git_hash
from .runview import read_runs
from .settings import describe, flatten
from .tablefiles import renderer, write_table
from .weights import download_all, get_spec
from .yamlio import load_yaml, read_yaml_file


def _csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _key_values(pairs: Sequence[str], what: str) -> dict[str, Any]:
    """``key=value`` flags; values are YAML (``3``, ``true``, ``[a, b]``), bounded like a config."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise RealBenchError(f"{what} expects key=value, got {brief(pair)}")
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = load_yaml(value, f"{what} {key.strip()}")
        except RealBenchError as exc:
            if "YAML" not in str(exc):
                raise
            out[key.strip()] = value
    return out


def _floats(pairs: Sequence[str], what: str) -> dict[str, float]:
    out = {}
    for key, value in _key_values(pairs, what).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RealBenchError(f"{what} {key} must be a number, got {brief(value)}")
        out[key] = float(value)
    return out


def _load_config(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    loaded = read_yaml_file(path, "config")
    if not isinstance(loaded, dict):
        raise RealBenchError(f"config must be a YAML mapping of settings, got {brief(loaded)}", path=path)
    return loaded


def _weights_overrides(config: dict[str, Any], flags: Sequence[str], path: str | None) -> dict[str, str]:
    given = config.pop("weights", None) or {}
    if not isinstance(given, dict):
        raise RealBenchError(f"config: 'weights' must be a mapping of weights names to paths, got {brief(given)}",
                             path=path)
    weights = {str(k): str(v) for k, v in given.items()}
    weights.update({k: str(v) for k, v in _key_values(flags, "--weights").items()})
    return weights


def _metric_options(pairs: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, value in _key_values(pairs, "--metric-set").items():
        if "." not in key:
            raise RealBenchError(f"--metric-set expects METRIC.KEY=VALUE, got {brief(key)}")
        metric, option = key.split(".", 1)
        out.setdefault(metric, {})[option] = value
    return out


def _identity(meta) -> str:
    return (f"run {printable(meta.label)}: method {printable(meta.method)}, config {meta.config_hash}, "
            f"data {printable(meta.data.name)}@{meta.data.checksum[:8]}"
            + (f", shard {meta.shard_text}" if meta.shard else "")
            + (f", split {meta.data.split}" if meta.data.split and meta.data.split != "all" else ""))


def run_config(args) -> RunConfig:
    """The typed run configuration the flags of ``realbench evaluate`` describe."""
    config = _load_config(args.config)
    weights = _weights_overrides(config, args.weights, args.config)
    config.update(_key_values(args.set, "--set"))
    for flag, key in (("model", "model"), ("prompts", "prompts")):
        if getattr(args, flag):
            config[key] = getattr(args, flag)
    for flag in ("resize", "composite"):
        if getattr(args, flag):
            config[flag] = True
    method, metrics, label = args.method, _csv_list(args.metrics) if args.metrics else None, args.label
    if args.preset:
        preset = get_preset(args.preset)
        if method and method != preset.method:
            raise RealBenchError(f"--preset {preset.name} is method '{preset.method}', but --method says '{method}'")
        method, config = preset.method, merged(preset.method_config, config)
        metrics = metrics or list(preset.metrics)
        label = label or preset.label
    if not method:
        raise RealBenchError("give --method (see `realbench methods`) or --preset (see `realbench presets`)")
    return RunConfig(
        method, data=args.data, split=args.split, benchmark=args.benchmark,
        scenes=_csv_list(args.scenes) if args.scenes else None,
        samples=args.samples, seed=args.seed, metrics=metrics, out=args.out, label=label, method_config=config,
        weights=weights,
        metric_options=_metric_options(args.metric_set), skip_unavailable=args.skip_unavailable, device=args.device,
        select=not args.no_select, selection_options={"matcher": args.select_matcher}, keep=args.keep,
        max_refs=args.max_refs, shard=args.shard, shard_base=args.shard_base, executor=args.executor,
        ray_address=args.ray_address, ray_gpus_per_task=args.ray_gpus_per_task, progress=not args.no_progress,
        max_pixels=args.max_pixels, archive_limits=args.archive_limit,
    )


def _say_what_happened(result) -> None:
    outcome, meta = result.outcome, result.meta
    if outcome is not None and outcome.made == 0 and outcome.rescored == 0:
        print(f"nothing to do: {outcome.total} of {count(outcome.total, 'sample')} already recorded in "
              f"{result.run_dir}", file=sys.stderr)
    elif outcome is not None:
        logging.getLogger("realbench").info("made %s, scored %d recorded one(s) again, %d already recorded",
                                            count(outcome.made, "sample"), outcome.rescored, outcome.already)
    if outcome is not None and len(meta.scenes) > outcome.scenes and outcome.made + outcome.rescored:
        print(f"note: the folder holds {count(len(meta.scenes), 'scene')}; the table covers all of them",
              file=sys.stderr)


def cmd_evaluate(args) -> int:
    result = evaluate(run_config(args))
    for name, reason in result.meta.unavailable.items():
        print(f"warning: metric '{name}' recorded as unavailable: {printable(reason)}", file=sys.stderr)
    data = result.meta.data
    if data.note:
        print(f"note: {printable(data.note)}", file=sys.stderr)
    if not data.ground_truth and not result.meta.metrics:
        print(f"note: data '{printable(data.name)}' has no ground truth: samples generated, nothing scored",
              file=sys.stderr)
    _say_what_happened(result)
    print(_identity(read_runs([result])[0].meta))
    print(to_text(result.summary()))
    if args.keep:
        print(f"top {args.keep} samples per scene by reference correspondences:")
        print(to_text(result.summary(keep=args.keep)))
    print(f"records, images, summary.csv and results.json in {result.run_dir}")
    return 0


def _rates(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        rates = [float(r) for r in _csv_list(text)]
    except ValueError:
        raise RealBenchError(f"--filter-rates expects numbers like 0,25,50,75, got {brief(text)}") from None
    if not all(math.isfinite(r) for r in rates):
        raise RealBenchError(f"--filter-rates expects finite numbers in [0, 100), got {brief(text)}")
    return rates


def cmd_leaderboard(args) -> int:
    outs = args.out or []
    formats = [table_format(out, args.format if len(outs) == 1 else None) for out in outs]
    if args.format and len(outs) > 1:
        raise RealBenchError("--format with several --out files: each file's extension names its format")
    table = leaderboard(args.runs, _csv_list(args.metrics) if args.metrics else None,
                        filter_rates=_rates(args.filter_rates), ci=args.ci, with_paper=args.with_paper,
                        allow_mixed_data=args.allow_mixed_data, split=args.split)
    for note in table.attrs.get("notes", []):
        print(f"note: {printable(note)}", file=sys.stderr)
    if outs:
        print(to_text(table))
        for out, fmt in zip(outs, formats):
            print(f"wrote {write_table(table, out, fmt)}")
    elif args.format:
        print(renderer(table_format(None, args.format))(table), end="")
    else:
        print(to_text(table))
    return 0


def cmd_check(args) -> int:
    result = check(args.runs, args.baseline, rtol=_floats(args.rtol, "--rtol"), atol=_floats(args.atol, "--atol"))
    print(result.report())
    if not result.comparable:
        return 3
    return 0 if result.passed else 1


def cmd_compare(args) -> int:
    a, b = read_runs([args.run_a, args.run_b], args.allow_mixed_data, allow_same=True)
    table = compare(a, b, _csv_list(args.metrics) if args.metrics else None, allow_mixed_data=args.allow_mixed_data)
    if a.path.resolve() == b.path.resolve():
        print(f"A = B = {printable(a.label)} ({printable(a.path)}, data {printable(a.data)}): the same run "
              "folder twice, so every difference is 0")
    else:
        print(f"A = {printable(a.label)} ({printable(a.path)}, data {printable(a.data)})\n"
              f"B = {printable(b.label)} ({printable(b.path)}, data {printable(b.data)})")
    print(f"paired over {int(table['scenes'].iloc[0]) if len(table) else 0} common scenes: B - A with its 95% t "
          "interval; a verdict says better only when that interval excludes 0 (else: no significant difference)")
    print(to_text(table))
    return 0


def cmd_merge(args) -> int:
    result = merge(args.shards, args.out, partial=args.partial)
    partial = result.meta.partial
    print(f"merged {count(len(result.meta.merged_from or []), 'shard')} into {result.run_dir}"
          + (f" (PARTIAL: {'; '.join(partial)})" if partial else ""))
    print(to_text(leaderboard([result])))
    return 0


def cmd_report(args) -> int:
    kinds = _csv_list(args.figure_kinds) if args.figure_kinds else list(FIGURE_KINDS)
    report = build_report(args.runs, args.out, by=args.by, data=args.data, self_contained=args.self_contained,
                          allow_mixed_data=args.allow_mixed_data, figures=args.figures, figure_kinds=kinds)
    where = "self-contained" if report.self_contained else f"with its images in {report.files}/"
    print(f"wrote {report.path}, {where} ({report.total_bytes / 2**20:.1f} MiB in all)")
    return 0


def cmd_methods(args) -> int:
    if args.name:
        cls = METHODS.get(args.name)
        print(f"{args.name}: {cls.info.description}\nsettings (--set KEY=VALUE):")
        for key, kind, default, text in describe(cls.Settings):
            print(f"  {key:28s} {kind:22s} default {default!r:24s} {text}")
        return 0
    for name in METHODS.names():
        info = METHODS.get(name).info
        flags = ["stochastic" if info.stochastic else "deterministic"]
        flags.append("needs weights" if info.needs_weights else "weight-free")
        print(f"{name:20s} {', '.join(flags):35s} {info.description}")
    return 0


def cmd_benchmarks(args) -> int:
    for name in BENCHMARKS.names():
        d = BENCHMARKS.get(name)
        truth = "ground truth" if d.has_ground_truth else "generation only"
        print(f"{name:22s} folder {d.folder or '-':12s} {truth:16s} {d.samples_per_scene:3d} samples/scene  "
              f"splits {','.join(d.splits):22s} {d.description}")
    return 0


def cmd_presets(args) -> int:
    for preset in PRESETS.values():
        settings = " ".join(f"--set {k}={v}" for k, v in flatten(preset.method_config).items())
        print(f"{preset.name:24s} --method {preset.method} {settings} --metrics {','.join(preset.metrics)}")
        print(f"{'':24s} {preset.description}")
    return 0


def cmd_metrics(args) -> int:
    for name in METRICS.names():
        info = METRICS.get(name).info
        lo, hi = info.range
        print(f"{name:12s} {info.arrow} v{info.version} region={info.region:4s} level={info.level:4s} "
              f"range=[{lo:g}, {hi:g}] {'needs weights' if info.needs_weights else 'weight-free':13s} "
              f"{info.description}")
    return 0


def cmd_doctor(args) -> int:
    weights = {k: str(v) for k, v in _key_values(args.weights, "--weights").items()}
    check_weight_names(weights)
    rows = diagnose(weights)
    for row in rows:
        print(f"{row['kind']:6s} {row['name']:16s} {row['weights']:41s} {row['status']}")
        if row["detail"]:
            print(f"{'':7s}{row['detail']}")
        for place in row.get("looked", []):
            print(f"{'':7s}looked in {place}")
    missing = sum(r["status"] == "MISSING" for r in rows)
    print(f"{len(rows) - missing} of {len(rows)} weight requirements available")
    commands = fetch_commands(rows)
    if commands:
        print("fetch what is missing (on a machine with internet; downloads resume if interrupted):")
        for command in commands:
            print(f"  {command}")
    return 0


def cmd_weights_list(args) -> int:
    for spec in known_weights().values():
        print(f"{spec.name:42s} {spec.kind:15s} {spec.repo_id or spec.url or '':45s} {spec.description}")
    return 0


def cmd_weights_download(args) -> int:
    known = known_weights()  # every plugin declares its weights when imported
    names = args.names or list(known)
    for name in names:
        get_spec(name)  # an unknown name fails before anything is fetched
    done, failed = download_all(names)
    for resolved in done:
        print(f"{resolved.spec.name}: {resolved.path}")
    if failed:
        raise RealBenchError(f"{len(failed)} of {len(names)} weights could not be downloaded:", details=failed)
    return 0


def _bench(args):
    return load_benchmark(args.data, _csv_list(args.scenes) if args.scenes else None, require_gt=False,
                          split=args.split, benchmark=args.benchmark, archive_limits=args.archive_limit)


def cmd_data_info(args) -> int:
    bench = _bench(args)
    if bench.note:
        print(f"note: {printable(bench.note)}", file=sys.stderr)
    print(f"{printable(bench.name)} ({bench.kind}): {count(len(bench), 'scene')}, "
          f"{sum(s.task == 'outpaint' for s in bench)} outpaint, {sum(s.task == 'inpaint' for s in bench)} inpaint; "
          f"protocol of benchmark '{bench.definition.name}' (`realbench benchmarks`)")
    print(f"{'scene':24s} {'task':9s} refs  size      missing  gt")
    for scene in bench:
        h, w = scene.size
        print(f"{printable(scene.id):24s} {scene.task:9s} {len(scene.refs):4d}  {w}x{h:<6d} {scene.mask.mean():7.1%}  "
              f"{'yes' if scene.gt is not None else 'no'}")
    return 0


def cmd_data_export(args) -> int:
    bench = _bench(args)
    path = export_benchmark(bench, args.to, fmt=args.format)
    print(f"wrote {count(len(bench), 'scene')} to {path} as {args.format} (load it with --data {path})")
    return 0


def _version() -> str:
    commit = git_hash()
    return f"realbench {__version__}" + (f" (git {commit[:12]}{'-dirty' if commit.endswith('-dirty') else ''})"
                                         if commit else "")


class _VersionAction(argparse.Action):
    """``--version``, worked out only when asked for (it reads the checkout's git state)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version())
        parser.exit()


def _pixels(text: str) -> int:
    try:
        return check_max_pixels(text)
    except RealBenchError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realbench", description="Benchmark harness for reference-driven image completion (RealFill / RealBench).",
        epilog="Exit codes: 0 done, 1 check found a regression, 2 bad input, 3 check against a baseline of another "
               "metric protocol version, 130 interrupted.")
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="say what happens on stderr (-v: steps such as downloads and planning; -vv: details "
                             "such as where each weight was found)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("evaluate", help="generate samples with a method and score them (rerun to resume)")
    p.add_argument("--method",
                   help="registered name (see `realbench methods`), folder:PATH (images made elsewhere) "
                        "or module:Class")
    p.add_argument("--preset", help="a protocol of the paper by name, e.g. table1-transfill (`realbench presets`)")
    p.add_argument("--data", default="sample",
                   help="'sample' (default), a RealBench folder or the release .zip, a saved or parquet dataset, "
                        "or a hub id")
    p.add_argument("--split", help=SPLIT_HELP)
    p.add_argument("--benchmark", help="the protocol the data follows (`realbench benchmarks`; default: from the "
                                       "folder's name or the dataset's card, else realbench)")
    p.add_argument("--scenes", help="comma-separated scene ids (default: all)")
    p.add_argument("--samples", type=int, help="samples per scene (default: the benchmark's for stochastic methods, "
                                               "64 on RealBench; else 1)")
    p.add_argument("--seed", type=int, default=0, help="sample i uses seed SEED+i (default 0)")
    p.add_argument("--metrics", help="comma-separated metric names, 'table1' for the paper's six, 'none' to generate "
                                     "only (default: the benchmark's, psnr,ssim on RealBench; none without ground "
                                     "truth)")
    p.add_argument("--out", help="run folder (default: runs/<label or method>[-<config>]-<data>[-seedS][-<split>]"
                                 "[-Nscenes-<hash>][-shard-IofN], one per variant)")
    p.add_argument("--label", help="the run's name in every table (default: the method and its non-default settings)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="method setting, e.g. radius=3 (repeatable; `realbench methods NAME` lists them)")
    p.add_argument("--config", help="YAML file of method settings (--set wins)")
    p.add_argument("--model", help="diffusion methods: base model, a hub id or a local diffusers folder")
    p.add_argument("--prompts", help="sd-inpaint: JSON file {scene_id: prompt}")
    p.add_argument("--resize", action="store_true",
                   help="folder:PATH: resample images whose size differs from the target")
    p.add_argument("--composite", action="store_true", help="folder:PATH: paste the target's known pixels back first")
    p.add_argument("--weights", action="append", metavar="NAME=PATH",
                   help="explicit weights location (see `realbench weights list`), repeatable")
    p.add_argument("--metric-set", action="append", metavar="METRIC.KEY=VALUE",
                   help="metric option, e.g. clip.model=ViT-B-16 (repeatable)")
    p.add_argument("--skip-unavailable", action="store_true",
                   help="record metrics whose weights are missing as unavailable instead of stopping")
    p.add_argument("--device", help="torch device for methods, metrics and the matcher (cpu, cuda, cuda:1, mps; "
                                    "default: cuda if available)")
    p.add_argument("--no-select", action="store_true", help="skip correspondence scoring (seed selection)")
    p.add_argument("--select-matcher", default="sift", choices=["sift", "loftr"],
                   help="correspondences for seed selection: sift (weight-free, default) "
                        "or loftr (kornia, needs weights)")
    p.add_argument("--keep", type=int, help="also report the top K samples per scene by reference correspondences")
    p.add_argument("--max-refs", type=int, help="use only each scene's first K references (recorded)")
    p.add_argument("--shard", help="run the I-th of N deterministic parts of the scenes: I/N (e.g. "
                                   "$SLURM_ARRAY_TASK_ID/8), or 'slurm' to read the Slurm array variables")
    p.add_argument("--shard-base", type=int, default=1, choices=[0, 1],
                   help="whether --shard I/N counts I from 1 (default) or 0 (0-based array indices)")
    p.add_argument("--executor", default="local", choices=["local", "ray"], help="where scenes run (default local)")
    p.add_argument("--ray-address", help="existing Ray cluster, host:port (default: start a local one)")
    p.add_argument("--ray-gpus-per-task", type=float, help="GPUs per scene task (default 1 if CUDA is present, else 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _max_pixels(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("leaderboard", help="mean over samples, then over scenes, per run and task")
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--metrics", help="comma-separated metrics (default: all recorded)")
    p.add_argument("--out", action="append",
                   help="file to write, its format from the extension (.csv, .md, .tex, .json); repeatable")
    p.add_argument("--format", choices=["csv", "md", "latex", "json"],
                   help="printed instead of the aligned table (with one --out: must match its extension)")
    p.add_argument("--split", help="only this split's rows (all, outpaint, inpaint)")
    p.add_argument("--filter-rates", help="Table 2 layout: drop the lowest-ranked %% of samples, e.g. 0,25,50,75")
    p.add_argument("--ci", action="store_true", help="95%% bootstrap confidence intervals over scenes")
    p.add_argument("--with-paper", action="store_true", help="add the paper's reported rows (marked as reported)")
    p.add_argument("--allow-mixed-data", action="store_true",
                   help="tabulate runs made on different data or scene sets (otherwise refused)")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("compare", help="paired comparison of two runs over their common scenes")
    p.add_argument("run_a", help="run folder A")
    p.add_argument("run_b", help="run folder B (differences are B - A)")
    p.add_argument("--metrics", help="comma-separated metrics (default: those both runs have)")
    p.add_argument("--allow-mixed-data", action="store_true",
                   help="compare runs made on different data (refused otherwise)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("merge", help="combine the shard folders of one run into one run folder")
    p.add_argument("shards", nargs="+", help="shard run folders, glob patterns, or a folder holding them")
    p.add_argument("--out", help="merged run folder, new or empty (default: the shards' name without "
                                 "-shard-IofN)")
    p.add_argument("--partial", action="store_true",
                   help="merge even if the shards do not cover every scene (recorded)")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("check", help="exit 1 if a run's values moved past tolerance from a baseline CSV, "
                                     "3 if the baseline was made under another metric protocol version")
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--baseline", required=True, help="baseline CSV written by `realbench leaderboard --out`")
    p.add_argument("--rtol", action="append", metavar="METRIC=TOL", help="relative tolerance (default 0)")
    p.add_argument("--atol", action="append", metavar="METRIC=TOL", help="absolute tolerance (default per metric)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("report", help="one HTML page: leaderboard, plots, per-scene images and best/worst samples")
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--out", help="HTML path (default: report.html in the first run's folder; when not "
                                 "self-contained, full-size images go to <name>_files/ beside it)")
    p.add_argument("--by", help="metric that picks each run's best and worst sample (default: the first)")
    p.add_argument("--figures", metavar="DIR", help="also write the paper's figures (Fig. 5, 6, 8, Table 2 as a plot) "
                                                   "as PNG files into DIR")
    p.add_argument("--figure-kinds", metavar="fig5,fig6,fig8,table2", help="which figures (default: all)")
    p.add_argument("--data", help="where the scenes are, if not where the runs recorded")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--self-contained", dest="self_contained", action="store_true", default=None,
                       help="embed every image in the page (default when it stays under 32 MiB)")
    group.add_argument("--no-self-contained", dest="self_contained", action="store_false",
                       help="write full-size images to <name>_files/ instead")
    p.add_argument("--allow-mixed-data", action="store_true",
                   help="report runs made on different data (refused otherwise)")
    _max_pixels(p, archives=False)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("doctor",
                       help="which pretrained weights each metric and method finds, and how to fetch the rest")
    p.add_argument("--weights", action="append", metavar="NAME=PATH", help="explicit weights location, repeatable")
    p.set_defaults(func=cmd_doctor)
    weights = sub.add_parser("weights", help="list or fetch pretrained weights").add_subparsers(
        dest="weights_command", required=True, metavar="COMMAND")
    weights.add_parser("list", help="every weight file the project knows").set_defaults(func=cmd_weights_list)
    p = weights.add_parser("download", help="fetch weights (needs internet; honours REALBENCH_WEIGHTS_DIR)")
    p.add_argument("names", nargs="*", help="weights names (default: all)")
    p.set_defaults(func=cmd_weights_download)

    p = sub.add_parser("methods", help="list methods, or one method's settings")
    p.add_argument("name", nargs="?", help="a method name: list its typed settings")
    p.set_defaults(func=cmd_methods)
    sub.add_parser("metrics", help="list metrics with their protocol versions").set_defaults(func=cmd_metrics)
    sub.add_parser("presets", help="list the paper's protocols by name (--preset)").set_defaults(func=cmd_presets)
    sub.add_parser("benchmarks", help="list benchmark definitions (folder, samples per scene, splits)").set_defaults(
        func=cmd_benchmarks)

    data = sub.add_parser("data", help="inspect or convert benchmark data").add_subparsers(
        dest="data_command", required=True, metavar="COMMAND")
    p = data.add_parser("info", help="list the scenes of a benchmark")
    p.add_argument("--data", default="sample", help="'sample', a RealBench folder or zip, a dataset or a hub id")
    p.add_argument("--split", help=SPLIT_HELP)
    p.add_argument("--benchmark", help="the protocol the data follows (`realbench benchmarks`; default: from the "
                                       "folder's name or the dataset's card, else realbench)")
    p.add_argument("--scenes", help="comma-separated scene ids (default: all)")
    _max_pixels(p)
    p.set_defaults(func=cmd_data_info)
    p = data.add_parser("export", help="write a benchmark as a Hugging Face dataset (parquet with a card, or arrow)")
    p.add_argument("--data", default="sample", help="'sample', a RealBench folder or zip, a dataset or a hub id")
    p.add_argument("--split", help=SPLIT_HELP)
    p.add_argument("--benchmark", help="the protocol the data follows (`realbench benchmarks`; default: from the "
                                       "folder's name or the dataset's card, else realbench)")
    p.add_argument("--scenes", help="comma-separated scene ids (default: all)")
    p.add_argument("--to", required=True, help="folder to create")
    p.add_argument("--format", default="parquet", choices=["parquet", "arrow"],
                   help="parquet as the Hub stores datasets, with a dataset card (default), or save_to_disk arrow")
    _max_pixels(p)
    p.set_defaults(func=cmd_data_export)
    return parser


SPLIT_HELP = ("the benchmark's split (all, outpaint, inpaint), or for a dataset with splits of its own, that split "
              "(default: test if present)")


def _max_pixels(p: argparse.ArgumentParser, archives: bool = True) -> None:
    if archives:
        _archive_limit(p)
    p.add_argument("--max-pixels", type=_pixels, metavar="N",
                   help="refuse images larger than N pixels from their header (default 120000000; "
                        "guards against decompression bombs)")


def _archive_limit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--archive-limit", metavar="bytes=N,entries=N,ratio=N",
                   help="what a .zip given as --data may unpack to (default bytes=32G,entries=100000,ratio=200: a "
                        "zip past them is refused as a bomb)")



class _Warnings:
    """realbench's own warnings (about the user's input) always, as one ``warning:`` line each;
    other libraries' warnings once each, and only under ``-v``."""

    def __init__(self, verbosity: int):
        self.verbosity, self.seen = verbosity, set()

    def show(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = str(message)
        if text in self.seen or (not issubclass(category, RealBenchWarning) and self.verbosity < 1):
            return
        self.seen.add(text)
        origin = "" if issubclass(category, RealBenchWarning) else f" ({category.__name__} from {Path(filename).name})"
        print(f"warning: {printable(text)}{origin}", file=sys.stderr)


def _terminate(signum, frame):  # SIGTERM (scheduler pre-emption, `kill`): stop like Ctrl-C
    raise KeyboardInterrupt


def _logging(verbosity: int) -> logging.Handler:
    """Diagnostics of the ``realbench`` loggers on stderr, as ``realbench: ...`` lines (tables and
    results stay on stdout)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("realbench: %(message)s"))
    logger = logging.getLogger("realbench")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO if verbosity else logging.WARNING)
    return handler


def _print_error(exc: RealBenchError) -> None:
    print(f"error: {printable(exc)}", file=sys.stderr)
    for item in exc.details:
        print(f"  {printable(item)}", file=sys.stderr)


def _safe_streams() -> None:
    """A terminal that cannot show a character (PYTHONIOENCODING=ascii, an arrow) gets an escape."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    _safe_streams()
    args = build_parser().parse_args(argv)
    handler = _logging(args.verbose)
    shown = warnings.showwarning
    warnings.showwarning = _Warnings(args.verbose).show
    previous = signal.signal(signal.SIGTERM, _terminate) if _main_thread() else None
    try:
        with pixel_limit(getattr(args, "max_pixels", None)):
            return args.func(args)
    except NothingToRun as exc:
        print(f"note: {printable(exc)}", file=sys.stderr)
        return 0
    except RealBenchError as exc:
        if args.verbose > 1:
            traceback.print_exc()
        _print_error(exc)
        return 2
    except BrokenPipeError:  # e.g. `realbench leaderboard ... | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # the disk filled up, a folder became read-only mid-run, ...
        where = f" {printable(exc.filename)}" if exc.filename else ""
        resume = ("; what was recorded so far stays, rerun the same command to resume"
                  if args.command == "evaluate" else "")
        print(f"error: cannot read or write the file{where}: {exc.strerror or exc}{resume}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    finally:
        logging.getLogger("realbench").removeHandler(handler)
        logging.getLogger("realbench").setLevel(logging.NOTSET)
        warnings.showwarning = shown
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
