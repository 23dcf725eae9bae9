"""`realbench check` tolerances: each metric's metadata gives one for CPU runs (bit-reproducible)
and a looser one for GPU runs; the user's --atol/--rtol override both."""
import pytest

from realbench import check, evaluate
from realbench.cli import main
from realbench.metrics import METRICS
from realbench.summarise.tables import write_table


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tol") / "run"
    return evaluate("telea", "sample", scenes=["chelsea-defocus", "rocket-style"], out=out, progress=False).run_dir


def _shifted(run, tmp_path, shift, device):
    from realbench import leaderboard

    table = leaderboard([run])
    assert set(table["device"]) == {"cpu"}
    table["ssim"] += shift
    table["device"] = device
    path = tmp_path / f"b-{device}.csv"
    write_table(table, path)
    return path


def test_cpu_runs_are_checked_tightly_gpu_runs_loosely(run, tmp_path):
    info = METRICS.get("ssim").info
    shift = (info.default_atol + info.gpu_atol) / 2  # past the CPU tolerance, inside the GPU one
    assert not check(run, _shifted(run, tmp_path, shift, "cpu")).passed
    result = check(run, _shifted(run, tmp_path, shift, "gpu"))
    assert result.passed, result.report()
    assert f"atol {info.gpu_atol:g}" in result.diffs["tolerance"].iloc[1]
    assert not check(run, _shifted(run, tmp_path, 2 * info.gpu_atol, "gpu")).passed


def test_explicit_tolerances_override_the_defaults(run, tmp_path, capsys):
    path = _shifted(run, tmp_path, 0.05, "cpu")
    assert main(["check", str(run), "--baseline", str(path)]) == 1
    assert main(["check", str(run), "--baseline", str(path), "--atol", "ssim=0.06"]) == 0


def test_every_metric_states_both_tolerances():
    for name in METRICS.names():
        info = METRICS.get(name).info
        assert 0 < info.default_atol <= info.gpu_atol, name
