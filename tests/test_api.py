"""The Python API as a notebook user meets it: real signatures and docstrings, a metric name as a
string, RunResult wherever a run folder goes, short reprs."""
import inspect

import realbench
from realbench import check, evaluate, leaderboard, load_benchmark


def test_top_level_functions_have_real_signatures_and_docstrings():
    for name in ("evaluate", "leaderboard", "check", "compare", "build_report", "load_benchmark"):
        function = getattr(realbench, name)
        parameters = inspect.signature(function).parameters
        assert not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters.values()), name
        assert function.__doc__ and len(function.__doc__) > 40, name
    assert "metrics" in inspect.signature(realbench.evaluate).parameters
    assert {"evaluate", "leaderboard", "check"} <= set(dir(realbench))


def test_one_metric_as_a_string_and_run_results_everywhere(tmp_path):
    run = evaluate("telea", "sample", scenes="chelsea-defocus", metrics="psnr", out=tmp_path / "run", progress=False)
    assert run.meta.metrics == ["psnr"]
    table = leaderboard([run], metrics="psnr")
    assert list(table["split"]) == ["all", "inpaint"]
    baseline = tmp_path / "b.csv"
    from realbench.summarise.tables import write_table

    write_table(table, baseline)
    assert check(run, baseline).passed and check([run], baseline).passed
    assert realbench.compare(run, run)["verdict"].iloc[0] == "no significant difference"
    assert realbench.build_report([run], tmp_path / "r.html").path.is_file()


def test_reprs_are_short(tmp_path):
    bench = load_benchmark("sample")
    assert len(repr(bench)) < 120 and "6 scenes" in repr(bench)
    assert len(repr(bench[0])) < 120 and "refs" in repr(bench[0])
    run = evaluate("telea", bench, scenes=["chelsea-defocus"], out=tmp_path / "run", progress=False)
    assert len(repr(run)) < 200 and "telea" in repr(run)
