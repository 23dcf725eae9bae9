"""The CLI's commands: each turns its flags into a call of the Python API and prints the result
(tables on stdout, notes and warnings on stderr). Bad input is a ``RealBenchError`` (``cli.main``
prints it as one line, exit 2)."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Sequence
from typing import Any

from .api import (
    RunConfig,
    build_report,
    check,
    compare,
    evaluate,
    export_benchmark,
    leaderboard,
    load_benchmark,
    merge,
)
from .core.errors import NothingToRun, RealBenchError
from .core.fields import brief, text_list
from .core.paths import printable
from .core.settings import describe, flatten
from .core.yamlio import load_yaml, read_yaml_file
from .data.benchmarks import BENCHMARKS
from .data.hfdata import already_exported
from .doctor import diagnose, fetch_commands, known_weights
from .methods import METHODS
from .metrics import METRICS
from .run.components import check_weight_names
from .run.merging import group_shards, merge_runs
from .run.presets import PRESETS, get_preset, merged
from .summarise.figures import KINDS as FIGURE_KINDS
from .summarise.formatting import count, table_format, to_text
from .summarise.runview import read_runs
from .summarise.tablefiles import renderer, write_table
from .weights import download_all, get_spec


def _csv_list(text: str) -> list[str]:
    return text_list(text) or []


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
        logging.getLogger("realbench").info("made %s, scored %d recorded again, %d already recorded",
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
    groups = group_shards(args.shards)
    if len(groups) > 1 and args.out:
        raise RealBenchError(f"the folders hold the shards of {len(groups)} runs, and --out names one folder: leave "
                             "--out out (each run is merged into its own folder) or name one run's shards",
                             details=[", ".join(map(str, group)) for group in groups])
    for group in groups:  # every run's shards checked before any is merged: bad input writes nothing
        merge_runs(group, args.out, partial=args.partial, check_only=True)
    results = [merge(group, args.out, partial=args.partial) for group in groups]
    for result in results:
        partial = result.meta.partial
        print(f"merged {count(len(result.meta.merged_from or []), 'shard')} into {result.run_dir}"
              + (f" (PARTIAL: {'; '.join(partial)})" if partial else ""))
    print(to_text(leaderboard(results, allow_mixed_data=True)))
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
    if already_exported(bench, args.to, fmt=args.format):
        raise NothingToRun(f"nothing to do: {args.to} already holds these {count(len(bench), 'scene')} as "
                           f"{args.format} (load it with --data {args.to})")
    path = export_benchmark(bench, args.to, fmt=args.format)
    print(f"wrote {count(len(bench), 'scene')} to {path} as {args.format} (load it with --data {path})")
    return 0
