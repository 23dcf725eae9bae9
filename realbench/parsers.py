"""The CLI's flags, one builder per command (``build_parser`` puts them together)."""

from __future__ import annotations

import argparse

from . import __version__
from .commands import (
    cmd_benchmarks,
    cmd_check,
    cmd_compare,
    cmd_data_export,
    cmd_data_info,
    cmd_doctor,
    cmd_evaluate,
    cmd_leaderboard,
    cmd_merge,
    cmd_methods,
    cmd_metrics,
    cmd_presets,
    cmd_report,
    cmd_weights_download,
    cmd_weights_list,
)
from .core.errors import RealBenchError
from .core.imageio import check_max_pixels
from .core.paths import printable
from .core.provenance import git_hash
from .core.unzip import ArchiveLimits
from .study.cli import add_commands as add_study_commands


def _version() -> str:
    commit = git_hash()
    return f"realbench {__version__}" + (f" (git {commit[:12]}{'-dirty' if commit.endswith('-dirty') else ''})"
                                         if commit else "")


class _Parser(argparse.ArgumentParser):
    """argparse's own errors (a flag's type, a missing argument) as every realbench error: one
    ``error:`` line saying where to read more, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {printable(message)} (see `{self.prog} --help`)\n")


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers of the commands a user runs (``evaluate``, ``weights download``, ...)."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [parser]
    return [leaf for group in groups for child in dict.fromkeys(group.choices.values()) for leaf in _leaves(child)]


def _everywhere(parser: argparse.ArgumentParser) -> None:
    """``-v`` and ``--no-progress`` after any command too (``realbench evaluate ... -v``)."""
    for leaf in _leaves(parser):
        if "-v" not in leaf._option_string_actions:
            leaf.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                              help="say what happens on stderr (-vv: more)")
        if "--no-progress" not in leaf._option_string_actions:
            leaf.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS,
                              help="no progress bars (realbench's and the libraries')")


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
                   help=f"what a .zip given as --data may unpack to (default bytes={ArchiveLimits.max_bytes // 2**30}G,"
                        f"entries={ArchiveLimits.max_entries},ratio={ArchiveLimits.max_ratio:g}: a zip past them is "
                        "refused as a bomb)")


def _add_evaluate(sub) -> None:
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


def _add_leaderboard(sub) -> None:
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


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="paired comparison of two runs over their common scenes")
    p.add_argument("run_a", help="run folder A")
    p.add_argument("run_b", help="run folder B (differences are B - A)")
    p.add_argument("--metrics", help="comma-separated metrics (default: those both runs have)")
    p.add_argument("--allow-mixed-data", action="store_true",
                   help="compare runs made on different data (refused otherwise)")
    p.set_defaults(func=cmd_compare)


def _add_merge(sub) -> None:
    p = sub.add_parser("merge", help="combine the shard folders of one run into one run folder")
    p.add_argument("shards", nargs="+", help="shard run folders, glob patterns, or a folder holding them")
    p.add_argument("--out", help="merged run folder, new or empty (default: the shards' name without "
                                 "-shard-IofN)")
    p.add_argument("--partial", action="store_true",
                   help="merge even if the shards do not cover every scene (recorded)")
    p.set_defaults(func=cmd_merge)


def _add_check(sub) -> None:
    p = sub.add_parser("check", help="exit 1 if a run's values moved past tolerance from a baseline CSV, "
                                     "3 if the baseline was made under another metric protocol version")
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--baseline", required=True, help="baseline CSV written by `realbench leaderboard --out`")
    p.add_argument("--rtol", action="append", metavar="METRIC=TOL", help="relative tolerance (default 0)")
    p.add_argument("--atol", action="append", metavar="METRIC=TOL", help="absolute tolerance (default per metric)")
    p.set_defaults(func=cmd_check)


def _add_report(sub) -> None:
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


def _add_weights(sub) -> None:
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


def _add_listings(sub) -> None:
    p = sub.add_parser("methods", help="list methods, or one method's settings")
    p.add_argument("name", nargs="?", help="a method name: list its typed settings")
    p.set_defaults(func=cmd_methods)
    sub.add_parser("metrics", help="list metrics with their protocol versions").set_defaults(func=cmd_metrics)
    sub.add_parser("presets", help="list the paper's protocols by name (--preset)").set_defaults(func=cmd_presets)
    sub.add_parser("benchmarks", help="list benchmark definitions (folder, samples per scene, splits)").set_defaults(
        func=cmd_benchmarks)


def _add_data(sub) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="realbench", description="Benchmark harness for reference-driven image completion (RealFill / RealBench).",
        epilog="Exit codes: 0 done, 1 check found a regression, 2 bad input, 3 check against a baseline of another "
               "metric protocol version, 130 interrupted.")
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="say what happens on stderr (-v: steps such as downloads and planning; -vv: details "
                             "such as where each weight was found)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_evaluate(sub)
    _add_leaderboard(sub)
    _add_compare(sub)
    _add_merge(sub)
    _add_check(sub)
    _add_report(sub)
    _add_weights(sub)
    _add_listings(sub)
    add_study_commands(sub)
    _add_data(sub)
    _everywhere(parser)
    return parser
