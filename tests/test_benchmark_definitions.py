"""Benchmark definitions own their protocol: every registered one is consistent, and a new one
registered in one place is found in a download, applied to loading and running, and shown."""
import pytest
from conftest import make_scene

from realbench import evaluate, leaderboard, load_benchmark
from realbench.cli import main
from realbench.core.resources import paper_dir
from realbench.data.benchmarks import BENCHMARKS, BenchmarkDefinition
from realbench.metrics import METRICS


@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_every_definition_is_consistent(name):
    d = BENCHMARKS.get(name)
    assert isinstance(d, BenchmarkDefinition) and d.name == name and d.description
    assert d.splits[0] == "all" and set(d.splits[1:]) <= {"outpaint", "inpaint"}
    assert d.samples_per_scene >= 1 and (d.max_refs is None or d.max_refs >= 1)
    for metric in [*d.default_metrics, *(m for names in d.metric_sets.values() for m in names)]:
        assert metric in METRICS, f"{name} names unknown metric {metric}"
    assert not d.has_ground_truth or d.default_metrics  # scored by default when it can be
    for files in d.reported.values():
        assert all((paper_dir() / f).is_file() for f in files)
    folders = [BENCHMARKS.get(n).folder for n in BENCHMARKS.names() if BENCHMARKS.get(n).folder]
    assert len(folders) == len(set(folders))


@pytest.fixture
def tiny_definition(monkeypatch):
    definition = BenchmarkDefinition(name="tiny-bench", description="a two-scene inpainting set", folder="TinyBench",
                                     max_refs=2, samples_per_scene=3, splits=("all", "inpaint"),
                                     default_metrics=("psnr",))
    BENCHMARKS.names()  # the registry discovers the package's definitions first
    monkeypatch.setitem(BENCHMARKS._objects, "tiny-bench", definition)
    return definition


def test_a_new_definition_is_found_applied_and_recorded(tiny_definition, tmp_path, capsys):
    for scene_id in ("1", "2"):
        make_scene(tmp_path / "download" / "TinyBench", scene_id, seed=int(scene_id))
    bench = load_benchmark(tmp_path / "download")  # the folder holding TinyBench/
    assert bench.definition is tiny_definition and bench.ids == ["1", "2"]
    run = evaluate("slow_method:SlowNoisyTelea", bench, method_config={"delay": 0}, out=tmp_path / "run",
                   progress=False)
    assert run.meta.benchmark["name"] == "tiny-bench" and run.meta.metrics == ["psnr"]
    assert len(run.records()) == 2 * 3  # the definition's samples per scene for a stochastic method
    assert list(leaderboard([run])["split"]) == ["all", "inpaint"]
    assert main(["benchmarks"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in BENCHMARKS.names()) and "TinyBench" in listing
    assert main(["data", "info", "--data", str(tmp_path / "download")]) == 0
    assert "benchmark 'tiny-bench'" in capsys.readouterr().out


def test_the_definitions_id_order_is_kept_from_loading_to_every_table(monkeypatch, tmp_path):
    BENCHMARKS.names()
    definition = BenchmarkDefinition(name="text-order", description="ids sorted as text", folder="TextOrder",
                                     default_metrics=("psnr",), id_order="text")
    monkeypatch.setitem(BENCHMARKS._objects, "text-order", definition)
    for scene_id in ("2", "10", "1"):
        make_scene(tmp_path / "TextOrder", scene_id, seed=int(scene_id))
    bench = load_benchmark(tmp_path / "TextOrder")
    assert bench.ids == ["1", "10", "2"]  # natural order would be 1, 2, 10
    run = evaluate("telea", bench, out=tmp_path / "run", progress=False)
    assert list(run.summary()["scene"])[:3] == ["1", "10", "2"]
    assert list(run.records()["scene"]) == ["1", "10", "2"]
    assert [row["scene"] for row in run.results()["per_scene"]] == ["1", "10", "2"]


def test_the_protocol_travels_with_an_exported_dataset_and_can_be_named(archive_root_with_qualitative, tmp_path):
    qualitative = load_benchmark(archive_root_with_qualitative, require_gt=False)
    assert qualitative.definition.name == "realfill-qualitative"
    exported = tmp_path / "qualitative-parquet"
    assert main(["data", "export", "--data", str(archive_root_with_qualitative), "--to", str(exported)]) == 0
    assert load_benchmark(exported, require_gt=False).definition.name == "realfill-qualitative"  # from its card
    named = load_benchmark("sample", benchmark="realfill-qualitative")
    assert named.definition.name == "realfill-qualitative"
    with pytest.raises(Exception, match="unknown benchmark 'realbenhc'.*Did you mean 'realbench'"):
        load_benchmark("sample", benchmark="realbenhc")


@pytest.fixture
def archive_root_with_qualitative(tmp_path):
    from replicas import release_archive

    root = release_archive(tmp_path / "dl", scenes={"0": {}})
    return root / "realfill_data_release_full" / "Qualitative"
