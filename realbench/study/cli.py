"""``realbench study make | serve | analyze``: argparse commands for the main CLI
(``add_commands(subparsers)``), each a ``func(args) -> int`` that raises ``RealBenchError`` for
bad input. ``python -m realbench.study ...`` runs them on their own (``main``)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from realbench.core.errors import RealBenchError
from realbench.core.paths import printable
from realbench.core.yamlio import read_yaml_file

from .analyze import RESAMPLES, analyze_study
from .config import StudyDesign
from .make import make_study
from .manifest import read_manifest
from .plan import attention_count
from .render import RENDERERS, table_format, to_text, write_analysis
from .server import serve_study


def _pairs(values: Sequence[str] | None, flag: str, last: bool = False) -> dict[str, str]:
    """KEY=VALUE pairs; ``last``: split at the last ``=`` (run labels often hold one, ``radius=3``)."""
    out = {}
    for value in values or []:
        if "=" not in value:
            raise RealBenchError(f"{flag} expects KEY=VALUE, got '{printable(value)}'")
        key, _, text = value.rpartition("=") if last else value.partition("=")
        out[key.strip()] = text.strip()
    return out


def _config_file(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    loaded = read_yaml_file(path, "the study config")  # bounded: size, aliases, duplicate keys
    if not isinstance(loaded, dict):
        raise RealBenchError("the study config must be a YAML mapping", path=path)
    return loaded


def cmd_make(args: argparse.Namespace) -> int:
    design = StudyDesign(kind="versus-ground-truth" if args.versus_ground_truth else "methods", seed=args.seed,
                         attention_rate=args.attention_rate, pool=args.pool,
                         scenes_per_participant=args.scenes_per_participant, image_format=args.image_format,
                         quality=args.quality, max_side=args.max_side)
    config = _config_file(args.config) or {}
    for name in ("title", "completion_code", "redirect_url"):
        if getattr(args, name) is not None:
            config[name] = getattr(args, name)
    out = make_study(args.runs, args.out, names=_pairs(args.name, "--name", last=True), design=design,
                     drop_incomplete=args.drop_incomplete, data=_pairs(args.data, "--data"), config=config,
                     progress=not args.no_progress)
    manifest = read_manifest(out)
    checks = attention_count(manifest, design.scenes_per_participant or len(manifest.scenes))
    methods = ", ".join(f"{printable(m.display)} ({len(m.runs)} run{'s' if len(m.runs) > 1 else ''})"
                        for m in manifest.methods)
    data = ", ".join(f"{printable(d['name'])} {d['scenes']}" for d in manifest.data)
    print(f"study {manifest.study_id} ({design.kind}, seed {design.seed}): {methods}; {len(manifest.scenes)} scenes "
          f"({data}); {len(manifest.images)} images; {checks} attention checks per participant")
    for dropped in manifest.dropped:
        print(f"note: scene {printable(dropped['scene'])} left out: {printable(dropped['reason'])}", file=sys.stderr)
    print(f"edit the texts in {out / 'study.yaml'}, then: realbench study serve {out}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        serve_study(args.study, host=args.host, port=args.port, access_log=args.access_log)
    except KeyboardInterrupt:
        pass
    print("stopped; every vote cast is in the study's votes.sqlite", file=sys.stderr)
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    table_format(args.out, args.format)  # a contradicting --format is refused before the bootstrap runs
    analysis = analyze_study(args.study, with_paper=args.with_paper, complete_only=args.complete_only,
                             resamples=args.resamples, seed=args.seed)
    if args.out:
        written = write_analysis(analysis, args.out, args.format)
        print(to_text(analysis), end="")
        print(f"wrote {', '.join(map(str, written))}")
    elif args.format:
        print(RENDERERS[args.format](analysis), end="")
    else:
        print(to_text(analysis), end="")
    return 0


def add_commands(subparsers: Any) -> None:
    """Add ``study`` (make, serve, analyze) to an argparse sub-parsers object."""
    study = subparsers.add_parser("study", help="the paper's user study (Table 3): make, serve, analyze")
    commands = study.add_subparsers(dest="study_command", required=True, metavar="COMMAND")
    _make_parser(commands)

    p = commands.add_parser("serve", help="serve a study to participants; every vote is stored as it is cast")
    p.add_argument("study", help="study folder (from `realbench study make`)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; put a reverse proxy "
                                                       "or tunnel in front for a public address)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    p.add_argument("--access-log", action="store_true", help="log every request (includes participant ids)")
    p.set_defaults(func=cmd_serve)

    p = commands.add_parser("analyze", help="Table 3 from the votes: shares with 95%% intervals, agreement, tests")
    p.add_argument("study", help="study folder")
    p.add_argument("--format", choices=["csv", "md", "latex", "json"], help="format of --out, or printed")
    p.add_argument("--out", help="file to write (format by suffix or --format); the bar plot goes beside it (.png), "
                                 "a CSV also gets <name>-per-scene.csv")
    p.add_argument("--with-paper", action="store_true", help="add the paper's reported rows (marked reported:)")
    p.add_argument("--complete-only", action="store_true", help="only participants who finished the study")
    p.add_argument("--resamples", type=int, default=RESAMPLES, help=f"bootstrap resamples (default {RESAMPLES})")
    p.add_argument("--seed", type=int, help="bootstrap seed (default: the study's)")
    p.set_defaults(func=cmd_analyze)


def _make_parser(commands: Any) -> None:
    p = commands.add_parser("make", help="build a study folder from recorded runs")
    p.add_argument("runs", nargs="+", help="run folders; runs sharing a label are one method (e.g. on RealBench and "
                                           "Qualitative)")
    p.add_argument("--out", required=True, help="study folder to create (must not exist or be empty)")
    p.add_argument("--name", action="append", metavar="LABEL=NAME",
                   help="a method's name in the analysis, split at the last '=' (participants never see names)")
    p.add_argument("--versus-ground-truth", action="store_true",
                   help="pairwise study: one method's random sample against the ground truth, per scene")
    p.add_argument("--seed", type=int, default=0, help="seed of samples, placements and attention checks (default 0)")
    p.add_argument("--attention-rate", type=float, default=0.1,
                   help="attention checks per scene item (default 0.1; 0: none)")
    p.add_argument("--pool", type=int, default=4, help="samples kept per method and scene (default 4)")
    p.add_argument("--scenes-per-participant", type=int, help="scenes each participant sees (default: all)")
    p.add_argument("--drop-incomplete", action="store_true", help="leave out scenes some method lacks (recorded)")
    p.add_argument("--data", action="append", metavar="NAME=PATH", help="where a run's data is now, if it moved")
    p.add_argument("--image-format", default="jpeg", choices=["jpeg", "png"], help="stored images (default jpeg)")
    p.add_argument("--quality", type=int, default=92, help="JPEG quality, 90-100 (default 92)")
    p.add_argument("--max-side", type=int, default=1024, help="longer side of stored images (default 1024; 0: keep)")
    p.add_argument("--config", help="a study.yaml to start from (texts, questions, completion)")
    p.add_argument("--title", help="the page title participants see")
    p.add_argument("--completion-code", help="code shown at the end (default: a random one)")
    p.add_argument("--redirect-url", help="address opened at the end, e.g. Prolific's completion URL")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_make)


def main(argv: Sequence[str] | None = None) -> int:
    """The study commands on their own: ``python -m realbench.study make ...``."""
    parser = argparse.ArgumentParser(prog="python -m realbench.study")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    arguments = ["study", *(sys.argv[1:] if argv is None else argv)]
    args = parser.parse_args(arguments)
    try:
        return int(args.func(args))
    except RealBenchError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 2
