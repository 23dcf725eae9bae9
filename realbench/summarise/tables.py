"""The summary tables, one module each: ``leaderboard`` (Table 1 and Table 2 layouts), ``paper``
(reported numbers), ``checks`` (``realbench check``), ``comparison`` (``realbench compare``). This
module keeps the names importable from where they used to be."""
from __future__ import annotations

from .checks import CheckResult, check
from .comparison import compare
from .formatting import format_value, read_table, to_csv, to_markdown, to_text
from .leaderboards import leaderboard
from .paper import paper_rows
from .runview import load_meta, read_run
from .summary import scene_summary
from .tablefiles import write_table


def load_records(run_dir):
    """One row per (method, scene, sample), the last record of each winning; metrics as columns."""
    return read_run(run_dir).records


__all__ = ["CheckResult", "check", "compare", "format_value", "leaderboard", "load_meta", "load_records",
           "paper_rows", "read_table", "scene_summary", "to_csv", "to_markdown", "to_text", "write_table"]
