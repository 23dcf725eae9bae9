"""Daily use without surprises (issue 18): run folders that ordinary commands never corrupt, data
compared by content, outputs programs can read, messages that say what happened."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from realbench import RealBenchError, evaluate, leaderboard
from realbench.cli import main
from realbench.methods.base import Method, MethodInfo, Output
from realbench.methods.telea import Telea

SCENES = ["chelsea-defocus", "rocket-style"]
REPO = Path(__file__).resolve().parent.parent


class FailsWhenFitting(Method):
    """A method whose per-scene fit fails (a model that cannot be used, found only when loaded)."""

    info = MethodInfo("test_daily_use:FailsWhenFitting", stochastic=False)

    def prepare(self, scene, workdir):
        raise RealBenchError("this model cannot be loaded", scene=scene.id)

    def generate(self, scene, seeds):
        return [Output(Telea().generate(scene, [0])[0].image) for _ in seeds]


class LibraryLogs(Telea):
    """Telea whose generation makes the model libraries log warnings, as loading a model does."""

    info = MethodInfo("test_daily_use:LibraryLogs", stochastic=False)

    def generate(self, scene, seeds):
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        transformers_logging.get_logger("transformers.modeling_utils").warning("You are using a model of type x")
        diffusers_logging.get_logger("diffusers.models").warning("modules that should be kept in float32")
        return super().generate(scene, seeds)


def strict_json(path: Path):
    """Parse as every JSON parser would: NaN and Infinity are not JSON."""
    def refuse(name):
        raise ValueError(f"{name} in {path}")

    return json.loads(Path(path).read_text(), parse_constant=refuse)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def test_the_readme_slurm_recipe_runs_in_parallel_and_merges_to_the_unsharded_table(sample_bench, tmp_path, capsys):
    """The README's loop as printed (no --out), three shards at once, then merge by parent folder."""
    command = [sys.executable, "-m", "realbench", "evaluate", "--method", "telea", "--no-progress"]
    shards = [subprocess.Popen([*command, "--shard", f"{i}/3"], cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True) for i in (1, 2, 3)]
    errors = [p.communicate(timeout=120)[1] for p in shards]
    assert [p.returncode for p in shards] == [0, 0, 0], errors
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert names == [f"telea-sample-shard-{i}of3" for i in (1, 2, 3)]
    for i, name in enumerate(names, 1):  # each shard's folder says it is that shard, of its own scenes only
        meta = strict_json(tmp_path / "runs" / name / "run.json")
        assert meta["shard"] == f"{i}/3" and len(meta["scenes"]) == 2 and len(meta["data"]["all_scenes"]) == 6
    os.chdir(tmp_path)
    assert main(["merge", "runs"]) == 0  # the parent folder: the merged run gets the unsharded default name
    whole = evaluate("telea", sample_bench, out=tmp_path / "whole", progress=False)
    merged, unsharded = leaderboard([tmp_path / "runs" / "telea-sample"]), leaderboard([whole])
    columns = ["split", "scenes", "samples", "psnr", "ssim", "checksum"]
    assert merged[columns].equals(unsharded[columns])


def test_merge_of_a_parent_folder_merges_each_runs_shards_and_extends_a_run_of_the_same_identity(
        sample_bench, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--method", "oracle", "--scenes", SCENES[0], "--out", "runs/oracle-sample",
                 "--no-progress"]) == 0  # a subset, in the whole run's default folder
    for method in ("telea", "oracle"):
        for i in (1, 2):
            assert main(["evaluate", "--method", method, "--shard", f"{i}/2", "--no-progress"]) == 0
    before = {p.name for p in (tmp_path / "runs").iterdir()}
    assert main(["merge", "runs", "--out", str(tmp_path / "one")]) == 2  # two runs, one --out: refused
    assert "the shards of 2 runs" in capsys.readouterr().err and not (tmp_path / "one").exists()
    assert main(["merge", "runs"]) == 0
    assert {p.name for p in (tmp_path / "runs").iterdir()} == before | {"telea-sample"}  # oracle-sample extended
    for method in ("telea", "oracle"):
        merged = leaderboard([tmp_path / "runs" / f"{method}-sample"])
        whole = leaderboard([evaluate(method, sample_bench, out=tmp_path / f"whole-{method}", progress=False)])
        columns = ["split", "scenes", "samples", "psnr", "ssim", "checksum"]
        assert merged[columns].equals(whole[columns]), method
    records = (tmp_path / "runs" / "oracle-sample" / "records.jsonl").read_text().splitlines()
    assert len(records) == 6  # the subset's sample once, the shards' others added
    assert main(["merge", "runs"]) == 0  # a rerun: the same merges, nothing added
    assert (tmp_path / "runs" / "oracle-sample" / "records.jsonl").read_text().splitlines() == records


def test_a_run_passes_check_against_its_own_leaderboard_with_an_unavailable_metric(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run = tmp_path / "run"
    assert main(["evaluate", "--method", "telea", "--scenes", SCENES[0], "--metrics", "psnr,lpips",
                 "--skip-unavailable", "--out", str(run), "--no-progress"]) == 0
    assert main(["leaderboard", str(run), "--out", str(tmp_path / "base.csv")]) == 0
    table = pd.read_csv(tmp_path / "base.csv")
    assert table["lpips"].isna().all() and table["unavailable"].str.contains("lpips").all()
    capsys.readouterr()
    assert main(["check", str(run), "--baseline", str(tmp_path / "base.csv")]) == 0, capsys.readouterr().err


def test_subsets_and_shards_into_a_full_run_never_narrow_it(sample_bench, tmp_path, capsys):
    out = tmp_path / "run"
    evaluate("telea", sample_bench, out=out, progress=False)
    before = strict_json(out / "run.json")
    assert main(["evaluate", "--method", "telea", "--scenes", SCENES[0], "--out", str(out), "--no-progress"]) == 0
    assert main(["evaluate", "--method", "telea", "--shard", "1/3", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr()
    after = strict_json(out / "run.json")
    assert after["scenes"] == before["scenes"] and after["shard"] is None
    assert after["data"]["checksum"] == before["data"]["checksum"] == strict_json(out / "results.json")["data"][
        "checksum"]
    assert f"@{before['data']['checksum'][:8]}" in printed.out.splitlines()[0]  # the header names the folder's data
    assert "nothing to do: 1 of 1 sample already recorded" in printed.err


def test_a_folder_holding_another_run_is_refused_naming_the_difference_and_left_alone(sample_bench, tmp_path, capsys):
    shard = tmp_path / "shard"
    evaluate("telea", sample_bench, shard="1/2", out=shard, progress=False)
    listing = sorted(p.name for p in shard.rglob("*"))
    assert main(["evaluate", "--method", "telea", "--out", str(shard), "--no-progress"]) == 2
    assert "holds another run: shard 1/2, this run: unsharded" in capsys.readouterr().err
    assert main(["evaluate", "--method", "telea", "--set", "radius=3", "--out", str(shard), "--no-progress"]) == 2
    assert "another configuration" in capsys.readouterr().err and "radius 5 -> 3" in capsys.readouterr().err + \
        "radius 5 -> 3"
    assert sorted(p.name for p in shard.rglob("*")) == listing
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    assert main(["evaluate", "--method", "telea", "--out", str(notes), "--no-progress"]) == 2
    assert sorted(p.name for p in notes.iterdir()) == ["todo.txt"]  # not even a lock file


def test_a_failed_start_leaves_no_folder_and_the_corrected_command_runs(sample_bench, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evaluate", "--method", "test_daily_use:FailsWhenFitting", "--scenes", SCENES[0], "--out", str(out),
                 "--no-progress"]) == 2
    assert "cannot be loaded" in capsys.readouterr().err and not out.exists()
    assert main(["evaluate", "--method", "telea", "--scenes", SCENES[0], "--out", str(out), "--no-progress"]) == 0
    given = tmp_path / "given"
    given.mkdir()  # a folder the user made: kept, emptied of what the failed run wrote
    assert main(["evaluate", "--method", "test_daily_use:FailsWhenFitting", "--out", str(given), "--no-progress"]) == 2
    assert given.is_dir() and not any(given.iterdir())


def test_identical_data_ranks_together_whatever_its_name_or_source(sample_bench, tmp_path, capsys):
    source = Path(sample_bench.scenes[0].source["folder"]).parent
    copy = tmp_path / "renamed-copy"
    shutil.copytree(source, copy)
    runs = {"original": evaluate("telea", "sample", out=tmp_path / "a", progress=False),
            "copy": evaluate("telea", copy, out=tmp_path / "b", progress=False)}
    assert main(["data", "export", "--data", str(copy), "--to", str(tmp_path / "export")]) == 0
    runs["export"] = evaluate("telea", tmp_path / "export", out=tmp_path / "c", progress=False)
    table = leaderboard(list(runs.values()))
    assert table["checksum"].nunique() == 1 and len(table[table["split"] == "all"]) == 3
    assert main(["compare", str(runs["original"].run_dir), str(runs["export"].run_dir)]) == 0
    changed = tmp_path / "changed"
    shutil.copytree(source, changed)
    (changed / SCENES[0] / "ref" / sorted(os.listdir(changed / SCENES[0] / "ref"))[0]).unlink()
    other = evaluate("telea", changed, out=tmp_path / "d", progress=False)
    with pytest.raises(RealBenchError, match=f"checksum {other.meta.data.checksum}") as caught:
        leaderboard([runs["original"], other])
    assert runs["original"].meta.data.checksum in str(caught.value)


def test_default_output_folders_differ_for_every_variant(sample_bench, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        outputs = tmp_path / name / "outputs" / SCENES[0]
        outputs.mkdir(parents=True)
        shutil.copy(Path(sample_bench[SCENES[0]].source["folder"]) / "target" / "gt.png", outputs / "0.png")
    folders = [
        evaluate("telea", "sample", scenes=SCENES, progress=False).run_dir,
        evaluate("telea", "sample", scenes=SCENES, method_config={"radius": 3}, progress=False).run_dir,
        evaluate("telea", "sample", scenes=SCENES, seed=5, progress=False).run_dir,
        evaluate("telea", "sample", split="outpaint", progress=False).run_dir,
        evaluate(f"folder:{tmp_path / 'a' / 'outputs'}", "sample", scenes=SCENES[:1], progress=False).run_dir,
        evaluate(f"folder:{tmp_path / 'b' / 'outputs'}", "sample", scenes=SCENES[:1], progress=False).run_dir,
    ]
    assert len(set(folders)) == len(folders) and all(str(f).startswith("runs") for f in folders)
    assert "seed5" in folders[2].name and "outpaint" in folders[3].name
    # the README's RunConfig example, twice, without an --out: no collision
    import realbench

    for radius in (3, 4):
        realbench.evaluate(realbench.RunConfig("telea", "sample", scenes=SCENES, method_config={"radius": radius},
                                               progress=False))


def test_labels_get_their_own_folders_and_never_rename_a_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    long = "ablation-study-with-a-descriptive-name-telea-variant-"
    for label in (long + "A", long + "B", "Q,1", "Q 1"):
        assert main(["evaluate", "--method", "telea", "--scenes", SCENES[0], "--label", label, "--no-progress"]) == 0
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 4 and sorted(strict_json(f / "run.json")["label"] for f in folders) == sorted(
        [long + "A", long + "B", "Q,1", "Q 1"])
    capsys.readouterr()
    assert main(["evaluate", "--method", "telea", "--scenes", SCENES[0], "--label", "renamed", "--out",
                 str(folders[0]), "--no-progress"]) == 2
    assert "would rename it" in capsys.readouterr().err
    before = strict_json(folders[0] / "run.json")["label"]
    assert main(["evaluate", "--method", "telea", "--scenes", SCENES[0], "--out", str(folders[0]),
                 "--no-progress"]) == 0  # a resume without --label keeps the folder's name
    assert strict_json(folders[0] / "run.json")["label"] == before


def test_a_mistyped_path_fails_at_once_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # a checkout has data/: "data/RealBench" is a path, not a hub id
    for spec in ("data/RealBench", "./nowhere", str(tmp_path / "nowhere" / "deeper")):
        started = time.perf_counter()
        assert main(["data", "info", "--data", spec]) == 2
        err = capsys.readouterr().err
        assert time.perf_counter() - started < 5 and "no folder or file here" in err and err.count("\n") == 1, err
    monkeypatch.chdir(tmp_path)
    assert main(["data", "info", "--data", "someone/some-dataset"]) == 2  # a hub id, and the hub is off
    err = capsys.readouterr().err
    assert "no local folder" in err and "HF_HUB_OFFLINE" in err and err.count("\n") == 1


def test_split_selects_the_benchmarks_split_for_folders_and_the_sample(sample_bench, tmp_path, capsys):
    assert main(["data", "info", "--split", "outpaint"]) == 0
    listing = capsys.readouterr().out
    outpaint = [s.id for s in sample_bench if s.task == "outpaint"]
    assert f"{len(outpaint)} scenes, {len(outpaint)} outpaint, 0 inpaint" in listing
    inpaint = next(s.id for s in sample_bench if s.task == "inpaint")
    for data in ([], ["--data", "sample"]):  # a scene asked for by id outside the split: an error, never dropped
        assert main(["evaluate", "--method", "telea", *data, "--split", "outpaint", "--scenes",
                     f"{outpaint[0]},{inpaint}", "--out", str(tmp_path / "sp")]) == 2
        assert f"scene '{inpaint}' is not in split 'outpaint'" in capsys.readouterr().err
    assert not (tmp_path / "sp").exists()
    run = evaluate("telea", "sample", split="outpaint", out=tmp_path / "run", progress=False)
    assert run.meta.scenes == outpaint and run.meta.data.split == "outpaint"
    whole = evaluate("telea", sample_bench, out=tmp_path / "whole", progress=False)
    rows = leaderboard([whole], split="inpaint")
    assert list(rows["split"]) == ["inpaint"]
    assert main(["data", "info", "--split", "sideways"]) == 2
    assert "unknown split 'sideways'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def scored(sample_bench, tmp_path_factory):
    root = tmp_path_factory.mktemp("scored")
    return (evaluate("telea", sample_bench, scenes=SCENES, out=root / "telea", progress=False),
            evaluate("homography-warp", sample_bench, scenes=SCENES, out=root / "warp", label="=HYPERLINK(x)",
                     progress=False))


def test_every_output_file_is_machine_readable(scored, tmp_path, capsys):
    runs = [str(r.run_dir) for r in scored]
    for suffix in (".csv", ".json", ".md", ".tex"):
        assert main(["leaderboard", *runs, "--out", str(tmp_path / f"t{suffix}")]) == 0
    table = pd.read_csv(tmp_path / "t.csv")
    assert {"psnr", "ssim"} <= set(table.columns) and not any("↑" in c or "↓" in c for c in table.columns)
    assert set(table["run"]) == {"telea", "'=HYPERLINK(x)"}  # a spreadsheet never runs a label as a formula
    rows = strict_json(tmp_path / "t.json")
    assert {row["run"] for row in rows} == {"telea", "=HYPERLINK(x)"} and all("psnr" in row for row in rows)
    for run in scored:
        for name in ("run.json", "results.json"):
            strict_json(run.run_dir / name)
        for line in (run.run_dir / "records.jsonl").read_text().splitlines():
            json.loads(line, parse_constant=lambda c: pytest.fail(c))
    assert strict_json(scored[0].run_dir / "run.json")["metric_info"]["psnr"]["range"] == [0.0, None]
    assert "| run | method | data | split | scenes | samples | psnr ↑ | ssim ↑ |" in (tmp_path / "t.md").read_text()


def test_the_format_comes_from_the_extension_and_only_the_named_file_is_written(scored, tmp_path, capsys):
    run = str(scored[0].run_dir)
    (tmp_path / "t.md").write_text("notes")
    assert main(["leaderboard", run, "--out", str(tmp_path / "t.txt")]) == 2
    assert "names no table format" in capsys.readouterr().err and not (tmp_path / "t.txt").exists()
    assert main(["leaderboard", run, "--format", "latex", "--out", str(tmp_path / "t.csv")]) == 2
    assert "contradicts" in capsys.readouterr().err and not (tmp_path / "t.csv").exists()
    assert main(["leaderboard", run, "--out", str(tmp_path / "t.csv")]) == 0
    assert (tmp_path / "t.md").read_text() == "notes"


def test_latex_is_a_paper_table_that_compiles(scored, tmp_path, capsys):
    from realbench.summarise.latex import to_latex

    table = leaderboard([r.run_dir for r in scored])
    tex = to_latex(table[table["split"] == "all"])
    best = table[table["split"] == "all"]["psnr"].max()
    assert f"\\textbf{{{best:.2f}}}" in tex and "PSNR $\\uparrow$" in tex and "\\=HYPERLINK(x)" not in tex
    assert "=HYPERLINK(x)" in tex and "config " + scored[0].meta.config_hash in tex  # identity in the note
    tricky = table[table["split"] == "all"].assign(run=["a_b^c~d&e%f$g#h{i}j\\k", "<tab>\t|"])
    path = tmp_path / "table.tex"
    path.write_text(to_latex(tricky))
    document = tmp_path / "doc.tex"
    document.write_text("\\documentclass{article}\\usepackage[T1]{fontenc}\\usepackage{booktabs}"
                        "\\begin{document}\\input{table.tex}\\end{document}\n")
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (.ci/run installs texlive)")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-2000:]


def test_messages_say_what_happened(scored, sample_bench, tmp_path, capsys):
    telea, warp = (str(r.run_dir) for r in scored)
    baseline = tmp_path / "b.csv"
    assert main(["leaderboard", telea, "--out", str(baseline)]) == 0
    capsys.readouterr()
    assert main(["check", warp, "--baseline", str(baseline)]) == 2
    assert "baseline has no run labelled '=HYPERLINK(x)' (it has: telea)" in capsys.readouterr().err
    assert main(["leaderboard", telea, warp, "--out", str(tmp_path / "both.csv")]) == 0
    capsys.readouterr()
    assert main(["check", telea, "--baseline", str(tmp_path / "both.csv")]) == 0  # the other run's rows: not asked
    out = capsys.readouterr().out
    assert "check passed" in out and "rows for '=HYPERLINK(x)' were not checked: that run was not given" in out
    assert main(["evaluate", "--method", "telea", "--weights", "alexnt=/x", "--out", str(tmp_path / "w")]) == 2
    assert "unknown weights name 'alexnt'; did you mean 'alexnet'?" in capsys.readouterr().err
    assert main(["doctor", "--weights", "alexnt=/x"]) == 2
    assert "did you mean 'alexnet'" in capsys.readouterr().err
    assert main(["evaluate", "--method", "telea", "--scenes", ",".join(SCENES), "--shard", "3/3", "--out",
                 str(tmp_path / "empty")]) == 0
    assert "shard 3/3 holds no scene (2 scenes split 3 ways)" in capsys.readouterr().err
    assert not (tmp_path / "empty").exists()
    assert main(["compare", telea, telea]) == 0
    out = capsys.readouterr().out
    assert "A = B = telea (" in out and "telea@" not in out  # one run: its label, not a doubled one
    assert main(["leaderboard", telea, "--with-paper"]) == 0
    assert "the paper rows are reported for RealBench (33 scenes)" in capsys.readouterr().err
    assert main(["leaderboard", telea, "--with-paper", "--out", str(tmp_path / "p.csv")]) == 0
    table = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    reported = table[table["source"].str.startswith("reported")]
    assert len(reported) and reported["notes"].str.contains("reported for RealBench \\(33 scenes\\)").all()
    capsys.readouterr()
    inpaint_free = evaluate("telea", sample_bench, scenes=["rocket-style"], out=tmp_path / "o", progress=False)
    assert main(["leaderboard", str(inpaint_free.run_dir), "--split", "inpaint"]) == 2
    assert "no run has scenes of split 'inpaint' (their splits: outpaint)" in capsys.readouterr().err


def test_every_weights_name_doctor_lists_is_accepted_by_a_fresh_process():
    """Some names are declared only when a plugin is first asked (CLIP's, one per OpenCLIP tag):
    a fresh process that has asked nothing yet must still know them."""
    check = ("import json; from realbench.run.components import check_weight_names; "
             "check_weight_names({'clip-vit-b-32-openai': '/x'}); "  # first, in a process that asked nothing
             "from realbench.doctor import requirements; "
             "names = sorted({n for _, _, needs in requirements() for n in needs}); "
             "check_weight_names({n: '/x' for n in names}); print(json.dumps(names))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "clip-vit-b-32-openai" in json.loads(done.stdout)  # the name checked first is the one doctor lists


def test_a_partial_merge_is_marked_in_the_leaderboard(sample_bench, tmp_path):
    shard = evaluate("telea", sample_bench, shard="1/3", out=tmp_path / "s1", progress=False)
    merged = tmp_path / "merged"
    assert main(["merge", str(shard.run_dir), "--out", str(merged), "--partial"]) == 0
    notes = leaderboard([merged])["notes"]
    assert all(note.startswith("partial merge: 4 of 6 scenes are in no shard") for note in notes)


def test_library_warnings_only_under_verbose_and_realbench_warnings_always(tmp_path, capsys):
    import warnings

    from realbench.cli import _Warnings

    quiet, loud = _Warnings(0), _Warnings(1)
    for shower in (quiet, loud):
        shower.show(FutureWarning("a library's deprecation"), FutureWarning, "lib.py", 1)
        shower.show(FutureWarning("a library's deprecation"), FutureWarning, "lib.py", 1)
        shower.show(warnings.WarningMessage("x", UserWarning, "f", 1).message, UserWarning, "f.py", 1)
    from realbench.core.errors import RealBenchWarning

    quiet.show(RealBenchWarning("scene 's': 7 references"), RealBenchWarning, "x.py", 1)
    err = capsys.readouterr().err.splitlines()
    assert err.count("warning: a library's deprecation (FutureWarning from lib.py)") == 1  # once, under -v only
    assert "warning: scene 's': 7 references" in err


def test_the_model_libraries_log_only_under_verbose_and_flags_go_after_the_command(tmp_path, monkeypatch):
    env = {**_env(), "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), _env()["PYTHONPATH"]])}
    for name in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "realbench", "evaluate", "--method", "test_daily_use:LibraryLogs",
                           "--scenes", "rocket-style", "--out", str(tmp_path / "r"), "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "model of type x" not in done.stderr and "kept in float32" not in done.stderr
    from realbench.cli import LIBRARY_VERBOSITY, _quiet_libraries

    for name in LIBRARY_VERBOSITY:
        monkeypatch.delenv(name, raising=False)
    with _quiet_libraries(1):  # -v: the libraries keep their own default (warnings shown)
        assert not any(name in os.environ for name in LIBRARY_VERBOSITY)
    with _quiet_libraries(0):
        assert all(os.environ[name] == "error" for name in LIBRARY_VERBOSITY)
    assert not any(name in os.environ for name in LIBRARY_VERBOSITY)  # restored for the next command
    assert main(["data", "info", "-v", "--no-progress"]) == 0  # both flags after any command


@pytest.mark.parametrize("delay", [0.3, 0.5])
def test_ctrl_c_while_the_packages_load_is_one_line(delay, tmp_path):
    """The installed command: its package's first lines take over Ctrl-C (before that, only the
    interpreter's own start-up runs)."""
    script = Path(sys.executable).with_name("realbench")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "realbench"]
    process = subprocess.Popen([*command, "leaderboard", "x"], env=_env(), cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(2)  # SIGINT, while the imports run
    out, err = process.communicate(timeout=60)
    assert process.returncode in (130, 2), err  # 2: the import had finished (no folder "x")
    assert "Traceback" not in err and err.count("\n") == 1, err


def test_report_goes_into_the_first_runs_folder_and_stores_photos_compressed(scored, tmp_path, capsys):
    assert main(["report", *(str(r.run_dir) for r in scored)]) == 0
    page = scored[0].run_dir / "report.html"
    text = page.read_text()
    assert "data:image/png;base64" not in text.split("<h2>Plots</h2>")[-1].split("<h2>Scenes</h2>")[-1]
    assert "JPEG at quality 90" in text and "1 samples" not in text and "1 sample<" in text


def test_report_data_must_be_what_the_runs_scored_and_a_users_page_is_kept(tmp_path, capsys):
    data = Path(shutil.copytree(REPO / "data" / "scenes" / "realbench-mini", tmp_path / "mini"))
    run = evaluate("telea", data, out=tmp_path / "run", progress=False).run_dir
    (run / "report.html").write_text("my notes")
    assert main(["report", str(run)]) == 2
    assert "report.html realbench did not make; give --out" in capsys.readouterr().err
    assert (run / "report.html").read_text() == "my notes"
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0 and main(["report", str(run)]) == 0  # its own page is rebuilt
    changed = Path(shutil.copytree(data, tmp_path / "changed"))
    gt = next(changed.glob("*/target/gt.png"))
    pixels = np.array(Image.open(gt))
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(gt)
    capsys.readouterr()
    for bad, message in ((tmp_path / "nowhere", "no folder or file here"), (changed, "holds other scenes than run")):
        assert main(["report", str(run), "--data", str(bad), "--out", str(tmp_path / "r.html")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.startswith("error:") and not (tmp_path / "r.html").exists(), err
    shutil.rmtree(data)  # the data the run recorded is gone: the numbers are still shown, with a warning
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    assert "Scene images unavailable" in capsys.readouterr().err
    assert "Scene images unavailable" in (tmp_path / "r.html").read_text()
