"""The numbers papers reported (``results/paper/*.csv``), shown beside measured rows and always
marked ``reported: <source>``; never computed here, and never passed off as measured on data
they were not reported for."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from realbench.core.errors import RealBenchError
from realbench.core.paths import check_name, inside, printable
from realbench.core.resources import paper_dir
from realbench.core.words import count
from realbench.data.benchmarks import get_definition

from .formatting import read_table
from .runview import RunView

IDENTITY = ("run", "method", "split", "filter", "source")


def paper_rows(metrics: Sequence[str], table2: bool = False, files: Sequence[str] | None = None) -> pd.DataFrame:
    """Reported numbers (``files``, else those the default benchmark lists for Table 1 or 2)."""
    if files is None:
        files = get_definition().reported.get("table2" if table2 else "table1", ())
    if not files:
        raise RealBenchError("this benchmark has no reported numbers for that table layout")
    frames = []
    for name in files:
        path = inside(paper_dir(), check_name(name, "reported numbers file"), "reported numbers file")
        if not path.is_file():
            raise RealBenchError("paper numbers not found (they ship in the repository's results/paper/)",
                                 path=str(path))
        frame = read_table(path)
        if not {"method", "split", "source"} <= set(frame.columns):
            raise RealBenchError("a reported-numbers table needs method, split and source columns", path=str(path))
        frame["source"] = "reported: " + frame["source"].astype(str)
        frame["run"] = frame["method"] + " (paper)"
        frame["method"] = frame["method"] + " (paper)"
        frames.append(frame)
    paper = pd.concat(frames, ignore_index=True)
    return paper[[c for c in paper.columns if c in IDENTITY or c in metrics]]


def paper_scope_note(views: Sequence[RunView]) -> str | None:
    """What to say when the paper's rows sit under runs on other data than they were reported for
    (the paper's rows are for its benchmark's full scene set)."""
    wanted = get_definition()
    total = wanted.scene_count
    off = [v for v in views if v.benchmark != wanted.name or (total is not None and len(v.scenes) != total)]
    if not off:
        return None
    shown = ", ".join(f"{printable(v.label)}: {count(len(v.scenes), 'scene')} of '{printable(v.data_name)}'"
                      for v in off[:3])
    return (f"the paper rows are reported for {wanted.folder or wanted.name} ({total} scenes); not comparable with "
            f"{shown}")
