"""The ``realbench`` command's entry point: light, so that Ctrl-C while the heavy packages load
still ends as one line (exit 130), and so that ``--no-progress`` reaches every library's progress
bars (they read their switches when imported)."""
from __future__ import annotations

import importlib
import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    if "--no-progress" in argv:
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        cli = importlib.import_module("realbench.cli")
        code = cli.main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
