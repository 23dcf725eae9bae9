"""Shared, built once per session: a tiny two-scene data folder, a run on it, its two shards and
its parquet export. Tests copy what they tamper with, never the originals."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_scene

from ._kills import Kills
from ._support import Result, assert_ok, cli, copy_tree

SIZE = (32, 40)  # small scenes: every case stays fast


def _run_cli(*args: object) -> Result:
    import contextlib
    import io

    from realbench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return Result(code, out.getvalue(), err.getvalue())


def make_tiny(root: Path) -> Path:
    """s1 (a hole inside: inpaint) and s2 (a hole at the border: outpaint), 40x32, two JPEG refs."""
    make_scene(root, "s1", size=SIZE, hole="inpaint", seed=0)
    make_scene(root, "s2", size=SIZE, hole="outpaint", seed=1)
    return root


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return make_tiny(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def base_run(tmp_path_factory, tiny_data) -> Path:
    out = tmp_path_factory.mktemp("base") / "telea-tiny"
    assert_ok(_run_cli("evaluate", "--method", "telea", "--data", tiny_data, "--out", out))
    return out


@pytest.fixture(scope="session")
def shards(tmp_path_factory, tiny_data) -> list[Path]:
    parent = tmp_path_factory.mktemp("shards")
    outs = [parent / f"telea-data-shard-{i}of2" for i in (1, 2)]
    for i, out in enumerate(outs, 1):
        assert_ok(_run_cli("evaluate", "--method", "telea", "--data", tiny_data, "--shard", f"{i}/2", "--out", out))
    return outs


@pytest.fixture(scope="session")
def parquet_export(tmp_path_factory, tiny_data) -> Path:
    out = tmp_path_factory.mktemp("export") / "tiny-parquet"
    assert_ok(_run_cli("data", "export", "--data", tiny_data, "--to", out))
    return out


@pytest.fixture
def run(capsys):
    """``run(*args)``: the CLI in this process, as a ``Result``."""
    return lambda *args: cli(capsys, *args)


@pytest.fixture
def run_copy(tmp_path, base_run):
    """A private copy of the base run to tamper with."""
    def copy(name: str = "run") -> Path:
        return copy_tree(base_run, tmp_path / name)
    return copy


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A private realbench cache, so what an archive case unpacks (or must not) is visible."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("REALBENCH_CACHE", str(folder))
    return folder


_WANTS_KILLS = []


def pytest_collection_modifyitems(session, config, items):
    """Whether any selected test needs the killed commands (then they start with the session)."""
    _WANTS_KILLS.append(any("killed" in getattr(item, "fixturenames", ()) for item in items))


@pytest.fixture(scope="session", autouse=True)
def _kills_in_background(request):
    """Start the killed commands as the session starts, so they run while other tests do."""
    if any(_WANTS_KILLS):
        return request.getfixturevalue("_kills")
    return None


@pytest.fixture(scope="session")
def _kills(tmp_path_factory, tiny_data, shards) -> Kills:
    return Kills(tmp_path_factory.mktemp("killed"), tiny_data, shards)


@pytest.fixture(scope="session")
def killed(_kills) -> dict[str, Path]:
    """Commands killed mid-way: see ``_kills.Kills``."""
    return _kills.wait()
