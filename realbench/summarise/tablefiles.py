"""Tables as files: the format comes from the file's extension (``.csv``, ``.md``, ``.tex``,
``.json``), exactly the named file is written (atomically), and nothing beside it."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from realbench.core.errors import RealBenchError
from realbench.core.files import FILE_MODE
from realbench.core.paths import check_out

from .formatting import table_format, to_csv, to_json, to_markdown
from .latex import to_latex


def renderer(fmt: str) -> Callable[[pd.DataFrame], str]:
    return {"csv": to_csv, "md": to_markdown, "latex": to_latex, "json": to_json}[fmt]


def write_table(table: pd.DataFrame, out: str | Path, fmt: str | None = None) -> Path:
    """Write exactly ``out`` (atomically), in the format its extension names."""
    out = Path(out)
    text = renderer(table_format(out, fmt))(table)
    if out.exists() and not out.is_file():
        raise RealBenchError("not a file", path=str(out))
    check_out(out.parent, f"the folder of --out {out.name}")
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode())
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        raise RealBenchError(f"cannot write the table ({exc.strerror or exc})", path=str(out)) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return out


