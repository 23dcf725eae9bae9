"""A benchmark is one file: a definition with its own folder layout, dropped into the benchmarks
package, loads, runs, tabulates and reports with nothing else edited."""
import sys

import numpy as np
from conftest import photo
from PIL import Image

from realbench import build_report, evaluate, leaderboard, load_benchmark
from realbench.data import benchmarks as benchmarks_package
from realbench.data.benchmarks import BENCHMARKS

MINE = '''
from . import BENCHMARKS, BenchmarkDefinition, SceneLayout

BENCHMARKS.register("flat-bench")(BenchmarkDefinition(
    name="flat-bench", description="scenes as <id>/refs/*.jpg, <id>/input.png, <id>/mask.png, <id>/gt.png",
    folder="FlatBench", layout=SceneLayout(refs="refs", target="input", mask="mask", gt="gt", ignore=("thumb_*",)),
    splits=("all", "inpaint", "outpaint"), default_metrics=("psnr", "ssim")))
'''


def _flat_scene(root, scene_id, seed):
    gt = photo(64, 80, seed)
    mask = np.zeros((64, 80), np.uint8)
    mask[16:48, 20:60] = 255
    target = gt.copy()
    target[mask > 0] = 255
    (root / scene_id / "refs").mkdir(parents=True)
    for name, array in (("input", target), ("mask", mask), ("gt", gt)):
        Image.fromarray(array).save(root / scene_id / f"{name}.png")
    for k in range(2):
        Image.fromarray(photo(64, 80, seed + 10 + k)).save(root / scene_id / "refs" / f"{k}.jpg")
    Image.fromarray(photo(8, 8, 1)).save(root / scene_id / "refs" / "thumb_0.jpg")  # not a reference


def test_a_benchmark_with_another_layout_is_one_new_file(tmp_path, monkeypatch):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "mine.py").write_text(MINE)
    monkeypatch.setattr(benchmarks_package, "__path__", [*benchmarks_package.__path__, str(plugins)])
    monkeypatch.setattr(BENCHMARKS, "_objects", dict(BENCHMARKS._objects))
    monkeypatch.setattr(BENCHMARKS, "_discovered", False)  # the registry looks again and finds the new file
    monkeypatch.delitem(sys.modules, "realbench.data.benchmarks.mine", raising=False)
    data = tmp_path / "FlatBench"
    for k, scene_id in enumerate(("a", "b")):
        _flat_scene(data, scene_id, k)
    bench = load_benchmark(data)
    assert bench.definition.name == "flat-bench" and bench.ids == ["a", "b"]
    assert [len(s.refs) for s in bench] == [2, 2]  # the ignored thumbnail is no reference
    run = evaluate("telea", data, out=tmp_path / "run", progress=False)
    assert run.meta.benchmark["name"] == "flat-bench"
    assert set(leaderboard([run])["split"]) == {"all", "inpaint"}
    elsewhere = tmp_path / "renamed"  # the report reloads the scenes under the benchmark the run recorded
    data.rename(elsewhere)
    page = build_report([run], tmp_path / "r.html", data=str(elsewhere)).path.read_text()
    assert "Scene images unavailable" not in page and "ground truth" in page
    monkeypatch.delitem(sys.modules, "realbench.data.benchmarks.mine", raising=False)
