"""``realbench`` command line: a thin layer over the Python API (``realbench.evaluate`` etc.).

Every user error ends as one ``error: ...`` line on stderr and exit code 2, never a traceback.
Exit codes: 0 done, 1 ``check`` found a regression, 2 bad input, 3 ``check`` against a baseline
of another metric protocol version, 130 interrupted (Ctrl-C or SIGTERM).
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from . import __version__, imageio
from .api import RunConfig, build_report, check, compare, evaluate, export_benchmark, leaderboard, load_benchmark, merge
from .benchmarks import BENCHMARKS
from .doctor import diagnose, fetch_commands, known_weights
from .errors import RealBenchError
from .formatting import RENDERERS, table_format, to_text, write_table
from .methods import METHODS
from .metrics import METRICS
from .paths import printable
from .provenance import git_hash
from .runview import read_runs
from .settings import describe
from .weights import download, get_spec


def _csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _key_values(pairs: Sequence[str], what: str) -> dict[str, Any]:
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise RealBenchError(f"{what} expects key=value, got '{pair}'")
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def _floats(pairs: Sequence[str], what: str) -> dict[str, float]:
    out = {}
    for key, value in _key_values(pairs, what).items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            raise RealBenchError(f"{what} {key} must be a number, got '{value}'") from None
    return out


def _load_config(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RealBenchError(f"cannot read config ({exc.strerror})", path=path) from None
    except UnicodeDecodeError:
        raise RealBenchError("config is not UTF-8 text (expected a YAML mapping of settings)", path=path) from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RealBenchError(f"cannot parse YAML ({str(exc).splitlines()[0]})", path=path) from None
    if not isinstance(loaded, dict):
        raise RealBenchError("config must be a YAML mapping", path=path)
    return loaded


def _metric_options(pairs: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, value in _key_values(pairs, "--metric-set").items():
        if "." not in key:
            raise RealBenchError(f"--metric-set expects METRIC.KEY=VALUE, got '{key}'")
        metric, option = key.split(".", 1)
        out.setdefault(metric, {})[option] = value
    return out


def _identity(meta: dict) -> str:
    data = meta.get("data") or {}
    checksum = str(data.get("checksum", ""))[:8]
    return (f"run {meta.get('label') or meta['method']}: method {meta['method']}, config {meta['config_hash']}, "
            f"data {data.get('name')}" + (f"@{checksum}" if checksum else "")
            + (f", shard {meta['shard']}" if meta.get("shard") else ""))


def run_config(args) -> RunConfig:
    """The typed run configuration the flags of ``realbench evaluate`` describe."""
    config = _load_config(args.config)
    weights = {str(k): str(v) for k, v in (config.pop("weights", None) or {}).items()}
    weights.update({k: str(v) for k, v in _key_values(args.weights, "--weights").items()})
    config.update(_key_values(args.set, "--set"))
    if args.model:
        config["model"] = args.model
    if args.prompts:
        config["prompts"] = args.prompts
    if args.resize:
        config["resize"] = True
    if args.composite:
        config["composite"] = True
    return RunConfig(
        args.method, data=args.data, split=args.split, benchmark=args.benchmark,
        scenes=_csv_list(args.scenes) if args.scenes else None,
        samples=args.samples, seed=args.seed, metrics=_csv_list(args.metrics) if args.metrics else None,
        out=args.out, label=args.label, method_config=config, weights=weights,
        metric_options=_metric_options(args.metric_set), skip_unavailable=args.skip_unavailable, device=args.device,
        select=not args.no_select, selection_options={"matcher": args.select_matcher}, keep=args.keep,
        max_refs=args.max_refs, shard=args.shard, shard_base=args.shard_base, executor=args.executor,
        ray_address=args.ray_address, ray_gpus_per_task=args.ray_gpus_per_task, progress=not args.no_progress,
    )


def cmd_evaluate(args) -> int:
    result = evaluate(run_config(args))
    for name, reason in result.meta.get("unavailable", {}).items():
        print(f"warning: metric '{name}' recorded as unavailable: {reason}", file=sys.stderr)
    data = result.meta["data"]
    if data.get("note"):
        print(f"note: {data['note']}", file=sys.stderr)
    if not data.get("ground_truth", True) and not result.meta["metrics"]:
        print(f"note: data '{data['name']}' has no ground truth: samples generated, nothing scored", file=sys.stderr)
    print(_identity(result.meta))
    print(to_text(result.summary()))
    if args.keep:
        print(f"top {args.keep} samples per scene by reference correspondences:")
        print(to_text(result.summary(keep=args.keep)))
    print(f"records, images, summary.csv and results.json in {result.run_dir}")
    return 0


def cmd_leaderboard(args) -> int:
    rates = None
    if args.filter_rates:
        try:
            rates = [float(r) for r in _csv_list(args.filter_rates)]
        except ValueError:
            raise RealBenchError(f"--filter-rates expects numbers like 0,25,50,75, got '{args.filter_rates}'") from None
    table = leaderboard(args.runs, _csv_list(args.metrics) if args.metrics else None, filter_rates=rates, ci=args.ci,
                        with_paper=args.with_paper, allow_mixed_data=args.allow_mixed_data)
    if args.out:
        print(to_text(table))
        written = write_table(table, args.out, args.format)
        print(f"wrote {' and '.join(map(str, written))}")
    elif args.format:
        print(RENDERERS[table_format(None, args.format)](table), end="")
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
    a, b = read_runs([args.run_a, args.run_b], args.allow_mixed_data)
    table = compare(a, b, _csv_list(args.metrics) if args.metrics else None, allow_mixed_data=args.allow_mixed_data)
    print(f"A = {a.label} ({a.path}, data {a.data})\nB = {b.label} ({b.path}, data {b.data})")
    print(f"paired over {int(table['scenes'].iloc[0]) if len(table) else 0} common scenes: B - A with its 95% t "
          "interval; a verdict says better only when that interval excludes 0 (else: no significant difference)")
    print(to_text(table))
    return 0


def cmd_merge(args) -> int:
    result = merge(args.shards, args.out, partial=args.partial)
    partial = result.meta.get("partial")
    print(f"merged {len(args.shards)} shards into {result.run_dir}" + (f" (PARTIAL: {'; '.join(partial)})"
                                                                      if partial else ""))
    print(to_text(leaderboard([result])))
    return 0


def cmd_report(args) -> int:
    report = build_report(args.runs, args.out, by=args.by, data=args.data, self_contained=args.self_contained,
                          allow_mixed_data=args.allow_mixed_data)
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
    rows = diagnose(weights)
    for row in rows:
        print(f"{row['kind']:6s} {row['name']:16s} {row['weights']:41s} {row['status']}")
        if row["detail"]:
            print(f"{'':7s}{row['detail']}")
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
    for name in names:
        resolved = download(name)
        print(f"{name}: {resolved.path}")
    return 0


def cmd_data_info(args) -> int:
    bench = load_benchmark(args.data, _csv_list(args.scenes) if args.scenes else None, require_gt=False,
                           split=args.split, benchmark=args.benchmark)
    if bench.note:
        print(f"note: {bench.note}", file=sys.stderr)
    print(f"{bench.name} ({bench.kind}): {len(bench)} scenes, "
          f"{sum(s.task == 'outpaint' for s in bench)} outpaint, {sum(s.task == 'inpaint' for s in bench)} inpaint; "
          f"protocol of benchmark '{bench.definition.name}' (`realbench benchmarks`)")
    print(f"{'scene':24s} {'task':9s} refs  size      missing  gt")
    for scene in bench:
        h, w = scene.size
        print(f"{scene.id:24s} {scene.task:9s} {len(scene.refs):4d}  {w}x{h:<6d} {scene.mask.mean():7.1%}  "
              f"{'yes' if scene.gt is not None else 'no'}")
    return 0


def cmd_data_export(args) -> int:
    bench = load_benchmark(args.data, _csv_list(args.scenes) if args.scenes else None, require_gt=False,
                           split=args.split, benchmark=args.benchmark)
    path = export_benchmark(bench, args.to, fmt=args.format)
    print(f"wrote {len(bench)} scenes to {path} as {args.format} (load it with --data {path})")
    return 0


def _version() -> str:
    commit = git_hash()
    return f"realbench {__version__}" + (f" (git {commit[:12]}{'-dirty' if commit.endswith('-dirty') else ''})"
                                         if commit else "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realbench", description="Benchmark harness for reference-driven image completion (RealFill / RealBench).",
        epilog="Exit codes: 0 done, 1 check found a regression, 2 bad input, 3 check against a baseline of another "
               "metric protocol version, 130 interrupted.")
    parser.add_argument("--version", action="version", version=_version(), help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="say what happens on stderr (-v: steps such as downloads and planning; -vv: details "
                             "such as where each weight was found)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("evaluate", help="generate samples with a method and score them (rerun to resume)")
    p.add_argument("--method", required=True,
                   help="registered name (see `realbench methods`), folder:PATH (images made elsewhere) "
                        "or module:Class")
    p.add_argument("--data", default="sample",
                   help="'sample' (default), a RealBench folder or the release .zip, a saved or parquet dataset, "
                        "or a hub id")
    p.add_argument("--split", help="dataset split for Hugging Face data (default: test if present)")
    p.add_argument("--benchmark", help="the protocol the data follows (`realbench benchmarks`; default: from the "
                                       "folder's name or the dataset's card, else realbench)")
    p.add_argument("--scenes", help="comma-separated scene ids (default: all)")
    p.add_argument("--samples", type=int, help="samples per scene (default: the benchmark's for stochastic methods, "
                                               "64 on RealBench; else 1)")
    p.add_argument("--seed", type=int, default=0, help="sample i uses seed SEED+i (default 0)")
    p.add_argument("--metrics", help="comma-separated metric names, 'table1' for the paper's six, 'none' to generate "
                                     "only (default: the benchmark's, psnr,ssim on RealBench; none without ground "
                                     "truth)")
    p.add_argument("--out", help="run folder (default: runs/<method>-<data>)")
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
    p.add_argument("--out", help="file to write (.csv gets a Markdown twin .md; .md, .tex, .json by suffix)")
    p.add_argument("--format", choices=["csv", "md", "latex", "json"],
                   help="format of --out, or printed instead of the aligned table")
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
    p.add_argument("shards", nargs="+", help="shard run folders")
    p.add_argument("--out", required=True, help="merged run folder (must not exist or be empty)")
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
    p.add_argument("--out", default="report.html",
                   help="HTML path (when not self-contained, full-size images go to <name>_files/ beside it)")
    p.add_argument("--by", help="metric that picks each run's best and worst sample (default: the first)")
    p.add_argument("--data", help="where the scenes are, if not where the runs recorded")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--self-contained", dest="self_contained", action="store_true", default=None,
                       help="embed every image in the page (default when it stays under 32 MiB)")
    group.add_argument("--no-self-contained", dest="self_contained", action="store_false",
                       help="write full-size images to <name>_files/ instead")
    p.add_argument("--allow-mixed-data", action="store_true",
                   help="report runs made on different data (refused otherwise)")
    _max_pixels(p)
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
    sub.add_parser("benchmarks", help="list benchmark definitions (folder, samples per scene, splits)").set_defaults(
        func=cmd_benchmarks)

    data = sub.add_parser("data", help="inspect or convert benchmark data").add_subparsers(
        dest="data_command", required=True, metavar="COMMAND")
    p = data.add_parser("info", help="list the scenes of a benchmark")
    p.add_argument("--data", default="sample", help="'sample', a RealBench folder or zip, a dataset or a hub id")
    p.add_argument("--split", help="dataset split for Hugging Face data (default: test if present)")
    p.add_argument("--benchmark", help="the protocol the data follows (`realbench benchmarks`; default: from the "
                                       "folder's name or the dataset's card, else realbench)")
    p.add_argument("--scenes", help="comma-separated scene ids (default: all)")
    _max_pixels(p)
    p.set_defaults(func=cmd_data_info)
    p = data.add_parser("export", help="write a benchmark as a Hugging Face dataset (parquet with a card, or arrow)")
    p.add_argument("--data", default="sample", help="'sample', a RealBench folder or zip, a dataset or a hub id")
    p.add_argument("--split", help="dataset split to read, for Hugging Face data")
    p.add_argument("--benchmark", help="the protocol the data follows (`realbench benchmarks`; default: from the "
                                       "folder's name or the dataset's card, else realbench)")
    p.add_argument("--scenes", help="comma-separated scene ids (default: all)")
    p.add_argument("--to", required=True, help="folder to create")
    p.add_argument("--format", default="parquet", choices=["parquet", "arrow"],
                   help="parquet as the Hub stores datasets, with a dataset card (default), or save_to_disk arrow")
    _max_pixels(p)
    p.set_defaults(func=cmd_data_export)
    return parser


def _max_pixels(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-pixels", type=int, metavar="N",
                   help="refuse images larger than N pixels from their header (default 120000000; "
                        "guards against decompression bombs)")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {printable(message)}", file=sys.stderr)


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = _logging(args.verbose)
    warnings.showwarning = _show_warning
    previous = signal.signal(signal.SIGTERM, _terminate) if _main_thread() else None
    limit = imageio.MAX_PIXELS
    try:
        if getattr(args, "max_pixels", None):
            imageio.set_max_pixels(args.max_pixels)
        return args.func(args)
    except RealBenchError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `realbench leaderboard ... | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # the disk filled up, a folder became read-only mid-run, ...
        where = f" ({printable(exc.filename)})" if exc.filename else ""
        print(f"error: cannot read or write a file{where}: {exc.strerror or exc}; what was recorded so far "
              "stays, rerun the same command to resume", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    finally:
        logging.getLogger("realbench").removeHandler(handler)
        logging.getLogger("realbench").setLevel(logging.NOTSET)
        imageio.MAX_PIXELS = limit
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
