"""``study analyze`` against votes cast by hand: shares equal hand counts, the two-way bootstrap
equals a plain loop over the same draws, exclusions follow the stated rule, agreement equals the
krippendorff package on an independently built matrix, the pairwise test equals scipy's, and
every format is what programs and people open."""
from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
from collections import Counter

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from study_helpers import HOSTILE_LABEL, RUN_FOLDERS

from realbench.core.errors import RealBenchError
from realbench.study import StudyDesign, analyze_study, make_study
from realbench.study.cli import add_commands
from realbench.study.manifest import read_manifest
from realbench.study.plot import figure
from realbench.study.render import CSV_COLUMNS, latex_escape, to_csv, to_json, to_latex, to_markdown
from realbench.study.service import StudyService
from realbench.study.store import External

pytest_plugins = ["study_fixtures"]


def _sources(study) -> dict[str, tuple[str, str | None]]:
    """image id -> (kind, method), from the manifest (what only the researcher knows)."""
    out: dict[str, tuple[str, str | None]] = {}
    for scene in read_manifest(study).scenes:
        out.update({s.image: ("method", key) for key, pool in scene.samples.items() for s in pool})
        out.update({image: ("broken", None) for image in scene.broken})
        if scene.ground_truth:
            out[scene.ground_truth] = ("truth", None)
    return out


def _cast(study, rules: list) -> list[dict]:
    """One participant per rule; ``rule(slot, position, question, options)`` returns the chosen
    image. Returns every vote with what it was for."""
    service = StudyService(study)
    sources = _sources(study)
    cast = []
    for rule in rules:
        pid, _ = service.register(External("direct"))
        slot = service.store.participant(pid).slot
        step = service.next_step(pid)
        while not step["done"]:
            options = [o["id"] for o in step["options"]]
            choice = rule(slot, step["position"], step["question"], options, sources)
            scene = service._shown(pid)[step["position"]]
            cast.append({"slot": slot, "question": step["question"], "kind": scene.kind, "scene": scene.scene,
                         "choice": sources[choice]})
            step = service.vote(pid, step["position"], step["question"], choice, 1.0)
    return cast


def _prefer(method_for: dict[str, str], fail_attention: int = 0, rng_seed: int | None = None):
    """Vote for ``method_for[question]``, pass attention checks (the first ``fail_attention`` are
    failed), or vote at random (seeded) when ``rng_seed`` is given."""
    state = {"failed": 0}
    rng = np.random.default_rng(rng_seed) if rng_seed is not None else None

    def rule(slot, position, question, options, sources):
        kinds = [sources[o] for o in options]
        if any(kind == "broken" for kind, _ in kinds):
            if state["failed"] < fail_attention:
                state["failed"] += 1
                return next(o for o in options if sources[o][0] == "broken")
            return next(o for o in options if sources[o][0] != "broken")
        if rng is not None:
            return options[int(rng.integers(len(options)))]
        return next(o for o in options if sources[o][1] == method_for[question])
    return rule


def test_shares_exclusions_bootstrap_and_agreement_match_hand_computations(study):
    rules = [_prefer({"realism": "telea", "faithfulness": HOSTILE_LABEL}),
             _prefer({"realism": "telea", "faithfulness": "telea"}),
             _prefer({"realism": HOSTILE_LABEL, "faithfulness": HOSTILE_LABEL}),
             _prefer({"realism": "telea", "faithfulness": "telea"}, fail_attention=1),  # excluded
             _prefer({}, rng_seed=5)]
    cast = _cast(study, rules)
    analysis = analyze_study(study, resamples=200, seed=11)
    people = analysis.participants.set_index("slot")
    assert people["excluded"].tolist() == [False, False, False, True, False]
    assert people.loc[3, "reason"] == "failed 1 of 4 attention questions"  # 2 checks x 2 questions
    kept = [v for v in cast if v["kind"] == "scene" and v["slot"] != 3]
    for question in ("realism", "faithfulness"):
        mine = [v for v in kept if v["question"] == question]
        counts = Counter(v["choice"][1] for v in mine)
        for method in ("telea", HOSTILE_LABEL):
            row = analysis.table[(analysis.table["question"] == question) & (analysis.table["method"] == method)]
            assert int(row["votes"].iloc[0]) == counts[method] and int(row["total"].iloc[0]) == len(mine) == 32
            assert row["share"].iloc[0] == pytest.approx(counts[method] / len(mine))
            low, high = _naive_bootstrap(mine, method, 200, np.random.default_rng([11, 0 if question == "realism"
                                                                                  else 1]))
            assert (row["ci_low"].iloc[0], row["ci_high"].iloc[0]) == pytest.approx((low, high))
            assert low <= row["share"].iloc[0] <= high
        agreement = analysis.agreement.set_index("question").loc[question]
        expected = krippendorff.alpha(reliability_data=_matrix(mine), level_of_measurement="nominal")
        assert agreement["krippendorff_alpha"] == pytest.approx(expected)
    per_scene = analysis.per_scene
    one = per_scene[(per_scene["question"] == "realism") & (per_scene["scene"] == "sample/rocket-style") &
                    (per_scene["method"] == "telea")].iloc[0]
    mine = [v for v in kept if v["question"] == "realism" and v["scene"] == "sample/rocket-style"]
    assert (one["votes"], one["total"]) == (sum(v["choice"][1] == "telea" for v in mine), len(mine))
    again = analyze_study(study, resamples=200, seed=11)
    assert again.table.equals(analysis.table)  # seeded: the same intervals every time


def _naive_bootstrap(votes: list[dict], method: str, resamples: int, rng) -> tuple[float, float]:
    """The crossed bootstrap as plain loops over the draws the analysis documents."""
    people, scenes = sorted({v["slot"] for v in votes}), sorted({v["scene"] for v in votes})
    cell = {(v["slot"], v["scene"]): v["choice"][1] == method for v in votes}
    drawn_people = rng.integers(0, len(people), size=(resamples, len(people)))
    drawn_scenes = rng.integers(0, len(scenes), size=(resamples, len(scenes)))
    shares = []
    for b in range(resamples):
        wins = total = 0
        for p in drawn_people[b]:
            for s in drawn_scenes[b]:
                if (people[p], scenes[s]) in cell:
                    total += 1
                    wins += cell[(people[p], scenes[s])]
        if total:
            shares.append(wins / total)
    return float(np.percentile(shares, 2.5)), float(np.percentile(shares, 97.5))


def _matrix(votes: list[dict]) -> np.ndarray:
    people, scenes = sorted({v["slot"] for v in votes}), sorted({v["scene"] for v in votes})
    codes = {"telea": 0, HOSTILE_LABEL: 1}
    matrix = np.full((len(people), len(scenes)), np.nan)
    for v in votes:
        matrix[people.index(v["slot"]), scenes.index(v["scene"])] = codes[v["choice"][1]]
    return matrix


def test_versus_ground_truth_share_and_binomial_test(versus_study, tmp_path):
    import shutil

    study = shutil.copytree(versus_study, tmp_path / "versus")

    def rule(slot, position, question, options, sources):
        kinds = {sources[o][0]: o for o in options}
        if "broken" in kinds:
            return kinds["truth"]
        wins_method = (slot + position) % 3 == 0 if question == "realism" else position % 4 == 0
        return kinds["method"] if wins_method else kinds["truth"]

    cast = _cast(study, [rule] * 4)
    analysis = analyze_study(study, resamples=100)
    for question in ("realism", "faithfulness"):
        mine = [v for v in cast if v["kind"] == "scene" and v["question"] == question]
        wins = sum(v["choice"][0] == "method" for v in mine)
        row = analysis.pairwise.set_index("question").loc[question]
        assert len(mine) == 24 and (row["votes"], row["total"]) == (wins, 24)  # 4 participants x 6 scenes
        test = binomtest(wins, len(mine), 0.5)
        assert row["p_value"] == pytest.approx(test.pvalue)
        assert row["exact_low"] == pytest.approx(test.proportion_ci(0.95, "exact").low)
        truth = analysis.table[(analysis.table["question"] == question) & (analysis.table["method"] == "ground truth")]
        assert int(truth["votes"].iloc[0]) == len(mine) - wins
    with_paper = analyze_study(study, with_paper=True, resamples=100).table
    reported = with_paper[with_paper["source"].str.startswith("reported:")]
    assert reported["share"].tolist() == [0.237, 0.220] and set(reported["method"]) == {"RealFill (paper)"}


def test_formats_are_strict_and_labels_literal(study_runs, tmp_path):
    names = {"telea": "_hidden", HOSTILE_LABEL: "$\\alpha$ 50% & #1 ~x^"}
    out = make_study([study_runs[f] for f in RUN_FOLDERS[:4]], tmp_path / "names", names=names,
                     design=StudyDesign(seed=2, attention_rate=0))
    _cast(out, [_prefer({"realism": "telea", "faithfulness": HOSTILE_LABEL}), _prefer({}, rng_seed=1)])
    analysis = analyze_study(out, with_paper=True, resamples=100)
    document = json.loads(to_json(analysis), parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert document["identity"]["seed"] == 2 and document["identity"]["questions"][0]["id"] == "realism"
    assert {r["runs"].split(" ")[0] for r in document["table3"] if r["source"] == "measured"} == {"telea",
                                                                                                   HOSTILE_LABEL}
    csv = pd.read_csv(pd.io.common.StringIO(to_csv(analysis)), keep_default_na=False)
    assert list(csv.columns) == CSV_COLUMNS and "nan" not in to_csv(analysis).lower()
    assert {"TransFill (paper)", "_hidden"} <= set(csv["display"])
    latex = to_latex(analysis)
    assert "\\$\\textbackslash{}alpha\\$ 50\\% \\& \\#1 \\textasciitilde{}x\\textasciicircum{}" in latex
    assert "\\_hidden" in latex and latex_escape("<b>") == "\\textless{}b\\textgreater{}"
    assert "| _hidden |" in to_markdown(analysis)
    assert "<script>" not in to_markdown(analysis) and "&lt;script&gt;" in to_markdown(analysis)  # a run label
    fig = figure(analysis)
    ticks = [t for t in fig.axes[0].get_xticklabels()]
    assert [t.get_text() for t in ticks][:2] == ["_hidden", names[HOSTILE_LABEL]]
    assert not any(t.get_parse_math() for t in ticks)


def test_cli_analyze_writes_table_plot_and_per_scene(study, tmp_path, capsys):
    _cast(study, [_prefer({}, rng_seed=3), _prefer({}, rng_seed=4)])
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["study", "analyze", str(study), "--out", str(tmp_path / "t3.csv"), "--with-paper",
                              "--resamples", "100"])
    assert args.func(args) == 0
    assert "RealFill (paper)" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "t3.csv")
    assert len(table) == 2 * 2 + 8 and table["source"].str.startswith("reported:").sum() == 8
    per_scene = pd.read_csv(tmp_path / "t3-per-scene.csv")
    assert len(per_scene) == 2 * 8 * 2
    assert (tmp_path / "t3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = read_manifest(study)
    assert set(table.loc[table["source"] == "measured", "study"]) == set(per_scene["study"]) == {manifest.study_id}
    assert set(per_scene["seed"]) == {manifest.design.seed} and set(per_scene["data"]) == {
        "; ".join(f"{d['name']}@{d['checksum']}" for d in manifest.data)}
    assert args.func(args) == 0  # a rerun replaces its own plot and per-scene table
    capsys.readouterr()
    args = parser.parse_args(["study", "analyze", str(study), "--format", "json", "--resamples", "100"])
    assert args.func(args) == 0
    assert math.isclose(sum(r["share"] for r in json.loads(capsys.readouterr().out)["table3"]
                            if r["question"] == "realism"), 1.0)
    with pytest.raises(RealBenchError, match="--resamples must be"):
        analyze_study(study, resamples=5)


def test_analyze_refuses_a_contradicting_format_and_files_it_did_not_make(study, tmp_path):
    _cast(study, [_prefer({}, rng_seed=3)])
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))

    def analyze(*argv: str) -> int:
        args = parser.parse_args(["study", "analyze", str(study), "--resamples", "100", *argv])
        return args.func(args)

    for argv, message in ((["--format", "json", "--out", str(tmp_path / "x.md")], "contradicts --out's extension"),
                          (["--out", str(tmp_path / "x.txt")], "names no table format")):
        with pytest.raises(RealBenchError, match=message):
            analyze(*argv)
    (tmp_path / "mine.png").write_bytes(b"my own plot")
    (tmp_path / "mine-per-scene.csv").write_text("my,own\n1,2\n")
    for out, other in (("mine.md", "mine.png"), ("mine.csv", "mine-per-scene.csv")):
        with pytest.raises(RealBenchError, match="was not written by `realbench study analyze`") as error:
            analyze("--out", str(tmp_path / out))
        assert other in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine-per-scene.csv", "mine.png"]
    assert (tmp_path / "mine.png").read_bytes() == b"my own plot"


def test_the_latex_table_compiles_and_carries_the_studys_identity(study, tmp_path):
    _cast(study, [_prefer({}, rng_seed=3)])
    analysis = analyze_study(study, with_paper=True, resamples=100)
    analysis.identity["questions"][0]["prompt"] += " \x1b[31m 50% & $x^2$ \\ {~}"
    latex = to_latex(analysis)
    manifest = read_manifest(study)
    assert manifest.study_id in latex and all(d["checksum"] in latex for d in manifest.data)
    assert "\x1b" not in latex and "\\x1b" not in latex
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (.ci/run installs texlive)")
    (tmp_path / "t.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + latex
                                    + "\\end{document}\n", encoding="utf-8")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
