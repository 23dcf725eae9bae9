"""Child process for cases whose failure mode is a blow-up: reads a JSON list of commands on
stdin (``{"argv": [...], "env": {...}, "cwd": "..."}``), runs each through ``realbench.cli.main``
in turn (the parent caps this process's memory), and prints one JSON line of results: exit code,
stdout, stderr, with any exception's traceback in stderr."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback


def _one(command: dict) -> dict:
    from realbench.cli import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(command.get("env", {}))
    if command.get("cwd"):
        os.chdir(command["cwd"])
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(command["argv"])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            except BaseException:  # noqa: B036 - a MemoryError is what these cases look for
                traceback.print_exc(file=err)
                code = None
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return {"code": code, "out": out.getvalue()[-20000:], "err": err.getvalue()[-20000:]}


def main() -> None:
    commands = json.loads(sys.stdin.read())
    results = [_one(command) for command in commands]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
