"""The README's printed outputs, made by running what it shows: every code block preceded by
``<!-- output of: COMMAND -->`` holds exactly what ``COMMAND`` prints (run in a fresh folder), and
every block preceded by ``<!-- python: ... -->`` runs as written. ``tests/test_readme.py`` checks
both; ``python tests/readme_examples.py --write`` regenerates the outputs after a change."""
from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"<!-- (output of|python): (.*?) -->\n```[a-z]*\n(.*?)```", re.S)


def blocks(text: str) -> list[re.Match]:
    return list(BLOCK.finditer(text))


@contextlib.contextmanager
def fresh_folder():
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


def command_output(command: str) -> str:
    from realbench.cli import main

    argv = shlex.split(command)
    assert argv[0] == "realbench", command
    buffer = io.StringIO()
    with fresh_folder(), contextlib.redirect_stdout(buffer):
        code = main(argv[1:])
    if code != 0:
        raise RuntimeError(f"`{command}` exited {code}")
    return buffer.getvalue()


def run_python(source: str) -> str:
    buffer = io.StringIO()
    with fresh_folder(), contextlib.redirect_stdout(buffer):
        exec(compile(source, "README.md", "exec"), {"__name__": "__readme__"})
    return buffer.getvalue()


def regenerate(text: str) -> str:
    out, last = [], 0
    for match in blocks(text):
        kind, arg, body = match.groups()
        new = command_output(arg) if kind == "output of" else body
        fence = match.group(0).split("\n", 2)[1]
        out.append(text[last:match.start()] + f"<!-- {kind}: {arg} -->\n{fence}\n{new}```")
        last = match.end()
    return "".join(out) + text[last:]


if __name__ == "__main__":
    text = README.read_text()
    updated = regenerate(text)
    if "--write" in sys.argv:
        README.write_text(updated)
        print("README.md outputs regenerated" if updated != text else "README.md already up to date")
    else:
        print(updated)
