"""``realbench`` command line: a thin layer over the Python API (``realbench.evaluate`` etc.).

Every user error ends as one ``error: ...`` line on stderr and exit code 2, never a traceback.
Exit codes: 0 done, 1 ``check`` found a regression, 2 bad input, 3 ``check`` against a baseline
of another metric protocol version, 130 interrupted (Ctrl-C or SIGTERM).
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path

from .commands import run_config  # noqa: F401  (the typed RunConfig the flags of `evaluate` describe)
from .core.errors import NothingToRun, RealBenchError, RealBenchWarning
from .core.imageio import pixel_limit
from .core.paths import printable
from .parsers import build_parser


class _Warnings:
    """realbench's own warnings (about the user's input) always, as one ``warning:`` line each;
    other libraries' warnings once each, and only under ``-v``."""

    def __init__(self, verbosity: int):
        self.verbosity, self.seen = verbosity, set[str]()

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


LIBRARY_VERBOSITY = ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY", "HF_HUB_VERBOSITY")


@contextlib.contextmanager
def _quiet_libraries(verbosity: int):
    """Without ``-v``, the model libraries' own log warnings ("You are using a model of type ...")
    stay unsaid: they read these switches when imported, which happens inside the command."""
    saved = {name: os.environ.get(name) for name in LIBRARY_VERBOSITY}
    if verbosity < 1:
        for name in LIBRARY_VERBOSITY:
            os.environ.setdefault(name, "error")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main(argv: Sequence[str] | None = None) -> int:
    _safe_streams()
    args = build_parser().parse_args(argv)
    with _quiet_libraries(args.verbose):
        return _run(args)


def _run(args) -> int:
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
