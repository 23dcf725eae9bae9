"""Issue 19, root causes 13 and 14: output that can be turned against its reader. Run labels and
scene ids come from users and data; whatever they hold, the terminal gets no raw control
character, Markdown rows stay rows, the LaTeX compiles, a CSV cell is never a spreadsheet formula,
JSON stays strict, the HTML page runs no script, and plot labels are drawn as given ($...$ is
no mathtext, a leading _ still shows in the legend)."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import make_scene

from realbench.core.paths import printable

from ._support import RAW_CONTROL, assert_ok, copy_tree

SCENES = ["$x$", "_x", "=1+1", "a|b", "@SUM(A1)"]
LABELS = ["$x^2$", "_hidden", "a\x1b]0;title\x07b", '=HYPERLINK("http://e.vil","x")', "a^b~c", "two\nlines", "p|q",
          "<script>alert(1)</script> $\\frac{", "+cmd", "-1", "\\end{table}", "100%_&#{}", "rtl\u202eover \u65e5",
          "*em* `code` [l](u) <b>b</b>", "te\u200blea\ufeff\u2060\u00ad"]
FORMULA = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="session")
def hostile_runs(tmp_path_factory) -> dict[str, Path]:
    """One telea run on scenes with hostile ids, copied under every hostile label."""
    from .conftest import _run_cli

    root = tmp_path_factory.mktemp("hostile-names")
    for i, scene in enumerate(SCENES):
        make_scene(root / "data", scene, size=(32, 40), hole="inpaint" if i % 2 else "outpaint", seed=i)
    first = root / "runs" / "r0"
    assert_ok(_run_cli("evaluate", "--method", "telea", "--data", root / "data", "--out", first))
    runs = {}
    for i, label in enumerate(LABELS):
        folder = first if i == 0 else copy_tree(first, root / "runs" / f"r{i}")
        meta = json.loads((folder / "run.json").read_text())
        meta["label"] = label
        (folder / "run.json").write_text(json.dumps(meta))
        runs[label] = folder
    return runs


def test_the_terminal_never_gets_a_raw_control_character(tmp_path, tiny_data, run):
    """evaluate's header (data NAME@..., run LABEL), data info, leaderboard and compare's A/B lines."""
    data = copy_tree(tiny_data, tmp_path / "d\x1b]0;TITLE\x07ata")
    a, b = tmp_path / "a", tmp_path / "b"
    results = [run("evaluate", "--method", "telea", "--data", data, "--label", "a\x1b[2J\x1b]0;x\x07", "--out", a),
               run("evaluate", "--method", "telea", "--data", data, "--label", "b\rB\x9b31m", "--out", b),
               run("data", "info", "--data", data), run("leaderboard", a, b), run("compare", a, b)]
    for result in results:
        assert_ok(result)
        assert not RAW_CONTROL.search(result.out) and "\x9b" not in result.out, result
    assert "a\\x1b[2J\\x1b]0;x\\x07" in results[0].out and "d\\x1b]0;TITLE\\x07ata@" in results[0].out  # escaped
    assert "a\\x1b[2J" in results[4].out and "b\\rB\\x9b31m" in results[4].out


def test_an_error_line_escapes_what_it_quotes(tmp_path, run):
    result = run("data", "info", "--data", str(tmp_path / "no\nsuch\x1b]0;x\x07folder"))
    assert result.code == 2 and result.err.count("\n") == 1, result
    assert not RAW_CONTROL.search(result.err) and "\\x1b" in result.err


def _leaderboard(run, runs, tmp_path, suffix: str) -> str:
    out = tmp_path / f"table{suffix}"
    assert_ok(run("leaderboard", *runs, "--out", out))
    return out.read_text(encoding="utf-8")


def test_markdown_rows_stay_rows(tmp_path, hostile_runs, run):
    text = _leaderboard(run, hostile_runs.values(), tmp_path, ".md")
    rows = json.loads(_leaderboard(run, hostile_runs.values(), tmp_path, ".json"))
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)  # header, rule, one line per row: no label broke a row
    separators = {line.replace("\\|", "").count("|") for line in lines}
    assert len(separators) == 1, separators
    assert not RAW_CONTROL.search(text)
    assert "<b>" not in text and "<script>" not in text and "&lt;b&gt;" in text  # shown, not rendered
    assert "\\*em\\* \\`code\\` \\[l\\](u)" in text  # emphasis, code and link marks shown as typed


def test_csv_cells_are_never_formulas_and_round_trip(tmp_path, hostile_runs, run):
    text = _leaderboard(run, hostile_runs.values(), tmp_path, ".csv")
    assert not RAW_CONTROL.search(text) and "\u202e" not in text  # `cat table.csv` sets no terminal title
    assert not any(c in text for c in "\u200b\ufeff\u2060\u00ad")  # "te\u200blea" never passes for "telea"
    rows = list(csv.DictReader(io.StringIO(text)))
    shown = [printable(label) for label in LABELS]
    assert {r["run"] for r in rows} == {("'" + label) if label.startswith(FORMULA) else label for label in shown}
    numeric = {c for c in rows[0] if all(_is_number(r[c]) for r in rows)}
    assert {"psnr", "ssim", "scenes"} <= numeric  # numbers stay numbers
    for row in rows:
        for column, value in row.items():
            if column not in numeric:
                assert not value.startswith(FORMULA), (column, value)
    summary = list(csv.DictReader(io.StringIO((hostile_runs["$x^2$"] / "summary.csv").read_text())))
    assert {r["scene"] for r in summary} >= {"'=1+1", "'@SUM(A1)", "$x$", "_x", "a|b"}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_json_is_strict_and_keeps_labels_exactly(tmp_path, hostile_runs, run):
    text = _leaderboard(run, hostile_runs.values(), tmp_path, ".json")
    rows = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert {r["run"] for r in rows} == set(LABELS)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_the_latex_table_compiles_whatever_the_labels(tmp_path, hostile_runs, run):
    text = _leaderboard(run, hostile_runs.values(), tmp_path, ".tex")
    assert "\\textasciicircum{}" in text and "\\textasciitilde{}" in text
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\\usepackage[T1]{fontenc}\\usepackage[utf8]{inputenc}"
                                      "\\usepackage{booktabs}\\begin{document}\\input{table.tex}\\end{document}\n")
    probe = subprocess.run(["kpsewhich", "booktabs.sty"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("LaTeX has no booktabs")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-2000:]


def test_the_report_runs_no_script_and_draws_labels_as_given(tmp_path, hostile_runs, monkeypatch, run):
    """Legends and tick labels get the labels and ids verbatim, with mathtext off (an unbalanced
    ``$\\frac{`` would make mathtext raise)."""
    import matplotlib
    import matplotlib.axes

    matplotlib.use("Agg")
    drawn: list[tuple[str, bool]] = []
    legend, set_xticks = matplotlib.axes.Axes.legend, matplotlib.axes.Axes.set_xticks

    def spy_legend(self, *args, **kwargs):
        made = legend(self, *args, **kwargs)
        drawn.extend((t.get_text(), t.get_parse_math()) for t in made.get_texts())
        return made

    def spy_ticks(self, *args, **kwargs):
        made = set_xticks(self, *args, **kwargs)
        drawn.extend((t.get_text(), t.get_parse_math()) for t in self.get_xticklabels())
        return made

    monkeypatch.setattr(matplotlib.axes.Axes, "legend", spy_legend)
    monkeypatch.setattr(matplotlib.axes.Axes, "set_xticks", spy_ticks)
    chosen = ["_hidden", "<script>alert(1)</script> $\\frac{"]
    page = tmp_path / "report.html"
    assert_ok(run("report", *[hostile_runs[label] for label in chosen], "--out", page))
    html = page.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    texts = {text for text, _ in drawn}
    assert set(chosen) <= texts and set(SCENES) <= texts, texts
    assert not any(parse_math for text, parse_math in drawn if "$" in text)


def test_a_value_asked_for_but_missing_reads_unavailable_never_not_requested(tmp_path, run_copy, run):
    """A record's null metric (asked for, not computed): 'unavailable' in every format, never '—'
    (which means the run never asked for that metric), and null in JSON."""
    tampered = run_copy()
    lines = (tampered / "records.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["metrics"]["psnr"] = None
    (tampered / "records.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    table = tmp_path / "t.json"
    result = run("leaderboard", tampered, "--out", table)
    assert_ok(result)
    overall = next(r for r in json.loads(table.read_text()) if r["split"] == "all")
    assert overall["psnr"] is None and "psnr" in overall["unavailable"]
    assert "unavailable" in result.out and "—" not in result.out
    assert_ok(run("leaderboard", tampered, "--out", tmp_path / "t.csv"))
    import pandas as pd

    frame = pd.read_csv(tmp_path / "t.csv")  # a number column of numbers: the reason is in 'unavailable'
    assert frame["psnr"].dtype.kind == "f" and frame["ssim"].dtype.kind == "f"
    assert "psnr" in frame.loc[frame["split"] == "all", "unavailable"].iloc[0]
