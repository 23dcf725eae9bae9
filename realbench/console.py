"""The ``realbench`` command's entry point: light, so that Ctrl-C while the heavy packages load
still ends as one line (exit 130), and so that ``--no-progress`` reaches every library's progress
bars (they read their switches when imported)."""
from __future__ import annotations

import importlib
import logging
import os
import signal
import sys


def main() -> None:
    argv = sys.argv[1:]
    if "--no-progress" in argv:
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        cli = importlib.import_module("realbench.cli")
        if signal.getsignal(signal.SIGINT) is getattr(sys.modules["realbench"], "_interrupted_while_loading", None):
            signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on: KeyboardInterrupt, handled
        code = cli.main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    _exit(code)


def _exit(code: int) -> None:
    """Exit with the command's own code, whatever arrives now. A Ctrl-C during shutdown would turn
    it into death by SIGINT; so would CPython itself after an interrupt raised inside a package's
    import, even one handled here (its 'unhandled interrupt' flag stays set), hence ``os._exit``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if code != 130:
        sys.exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


if __name__ == "__main__":
    main()
