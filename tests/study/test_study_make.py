"""``study make``: runs combined per label over RealBench-like and Qualitative data, coverage,
names that give nothing away, byte sizes that give nothing away, plans reproducible from the seed,
and bad input as one error with nothing written."""
from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from study_helpers import HOSTILE_LABEL, HOSTILE_SCENE, RUN_FOLDERS

from realbench.core.errors import RealBenchError
from realbench.study import StudyDesign, make_study, participant_plan
from realbench.study.cli import add_commands
from realbench.study.manifest import read_manifest

pytest_plugins = ["study_fixtures"]


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_runs_sharing_a_label_are_one_method_over_both_data_sets(made_study, study_runs):
    manifest = read_manifest(made_study)
    assert [m.key for m in manifest.methods] == ["telea", HOSTILE_LABEL]
    assert [m.display for m in manifest.methods] == ["Telea", HOSTILE_LABEL]
    assert [len(m.runs) for m in manifest.methods] == [2, 2]
    keys = [s.key for s in manifest.scenes]
    assert len(keys) == 8 and f"Qualitative/{HOSTILE_SCENE}" in keys and "Qualitative/0" in keys
    assert sum(k.startswith("sample/") for k in keys) == 6
    for scene in manifest.scenes:  # pool of 2 telea samples (both recorded), 1 warp sample
        assert [s.sample for s in scene.samples["telea"]] == [0, 1]
        assert len(scene.samples[HOSTILE_LABEL]) == 1
        assert (scene.ground_truth is None) == scene.key.startswith("Qualitative/")
        assert len(scene.broken) == (1 if scene.ground_truth else 0)  # 2 options: one broken fill
    assert {d["name"]: d["scenes"] for d in manifest.data} == {"sample": 6, "Qualitative": 2}


def test_options_of_a_scene_have_one_byte_size_and_opaque_names(made_study):
    """File names are random hex, say nothing, and every option of a scene (each method's samples,
    the ground truth, the broken fill) has exactly the same length; the images carry no metadata."""
    manifest = read_manifest(made_study)
    for scene in manifest.scenes:
        options = [s.image for pool in scene.samples.values() for s in pool] + list(scene.broken)
        options += [scene.ground_truth] if scene.ground_truth else []
        sizes = {(made_study / manifest.images[i].file).stat().st_size for i in options}
        assert len(sizes) == 1, (scene.key, sizes)
        for image_id in options:
            data = (made_study / manifest.images[image_id].file).read_bytes()
            picture = Image.open(io.BytesIO(data))
            picture.load()
            assert picture.format == "JPEG" and not picture.getexif() and "icc_profile" not in picture.info
            assert picture.info.get("comment", b"").strip(b"\0") == b""  # the padding is zeros only
    names = " ".join(p.name for p in (made_study / "images").iterdir())
    for word in ("telea", "warp", "sample", "Qualitative", "oracle", "run"):
        assert word not in names
    assert len(list((made_study / "images").iterdir())) == len(manifest.images)


def test_padding_keeps_pixels(made_study):
    """A padded option decodes to the same pixels as the unpadded encoding of the recorded sample."""
    import numpy as np

    from realbench.core.imageio import read_rgb
    from realbench.study import images as pictures

    manifest = read_manifest(made_study)
    scene = manifest.scene("sample/rocket-style")
    sample = scene.samples["telea"][1]
    run = Path(manifest.method("telea").runs[sample.run]["path"])
    recorded = read_rgb(run / "images" / "rocket-style" / f"{sample.sample:03d}.png")
    stored = np.asarray(Image.open(made_study / manifest.images[sample.image].file).convert("RGB"))
    direct = np.asarray(Image.open(io.BytesIO(pictures.encode(recorded, "jpeg", 92))).convert("RGB"))
    assert np.array_equal(stored, direct)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_padding_is_exact_and_inert(fmt):
    """Padded files have exactly the asked length and decode to the unpadded pixels."""
    import numpy as np

    from realbench.study import images as pictures

    rng = np.random.default_rng(0)
    originals = [pictures.encode(rng.integers(0, 256, (40 + 8 * i, 56, 3), dtype=np.uint8), fmt, 95)
                 for i in range(3)]
    size = pictures.padded_size([len(b) for b in originals])
    for data in originals:
        padded = pictures.pad(data, size)
        assert len(padded) == size and size - len(data) >= 16
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(padded))), np.asarray(Image.open(io.BytesIO(data))))
    with pytest.raises(ValueError):
        pictures.pad(originals[0], len(originals[0]) + 3)


def test_plans_follow_the_seed_and_differ_between_participants(made_study, study_runs, tmp_path):
    manifest = read_manifest(made_study)
    first, second = participant_plan(manifest, 0), participant_plan(manifest, 1)
    assert participant_plan(manifest, 0) == first  # pure function of (study, slot)
    assert [i.scene for i in first] != [i.scene for i in second] or \
        [[o.image for o in i.options] for i in first] != [[o.image for o in i.options] for i in second]
    for plan in (first, second):
        kinds = [i.kind for i in plan]
        assert kinds.count("attention") == 2 and kinds[0] == "scene"  # ceil(0.25 * 8), never first
        assert sorted(i.scene for i in plan if i.kind == "scene") == sorted(s.key for s in manifest.scenes)
        for item in plan:
            sources = sorted(o.source for o in item.options)
            assert sources == (["method", "method"] if item.kind == "scene" else ["broken", "ground-truth"])
    # the same runs and seed again: the same study id and the same plans (up to the random image ids)
    again = make_study([study_runs[f] for f in RUN_FOLDERS[:4]], tmp_path / "again", names={"telea": "Telea"},
                       design=StudyDesign(seed=7, attention_rate=0.25, pool=2))
    other = read_manifest(again)
    assert other.study_id == manifest.study_id
    ids = {}
    for a, b in zip(manifest.scenes, other.scenes):
        ids.update({x.image: y.image for key in a.samples for x, y in zip(a.samples[key], b.samples[key])})
        ids.update(dict(zip(a.broken, b.broken)))
        if a.ground_truth:
            ids[a.ground_truth] = b.ground_truth
    for slot in range(3):
        assert [(i.scene, [ids[o.image] for o in i.options]) for i in participant_plan(manifest, slot)] == \
            [(i.scene, [o.image for o in i.options]) for i in participant_plan(other, slot)]
    reseeded = read_manifest(make_study([study_runs[f] for f in RUN_FOLDERS[:4]], tmp_path / "seed8",
                                        design=StudyDesign(seed=8, attention_rate=0.25, pool=2)))
    assert reseeded.study_id != manifest.study_id


def test_scenes_per_participant_are_balanced(made_study, study_runs, tmp_path):
    out = make_study([study_runs[f] for f in RUN_FOLDERS[:4]], tmp_path / "share",
                     design=StudyDesign(seed=1, attention_rate=0, scenes_per_participant=3))
    manifest = read_manifest(out)
    seen: dict[str, int] = {}
    for slot in range(8):  # 8 participants x 3 scenes over 8 scenes: each scene exactly 3 times
        plan = participant_plan(manifest, slot)
        assert len(plan) == 3 and len({i.scene for i in plan}) == 3
        for item in plan:
            seen[item.scene] = seen.get(item.scene, 0) + 1
    assert sorted(seen.values()) == [3] * 8


def test_a_scene_some_method_lacks_is_one_error_or_dropped(study_runs, tmp_path, capsys):
    runs = [study_runs[f] for f in RUN_FOLDERS[:4]] + [study_runs["run-oracle-sample"]]
    with pytest.raises(RealBenchError, match=r"every method must cover every scene; missing: "
                                             r"Qualitative/0: no samples of oracle.*--drop-incomplete"):
        make_study(runs, tmp_path / "incomplete")
    assert not (tmp_path / "incomplete").exists() and not list(tmp_path.iterdir())
    assert _cli(["study", "make", *map(str, runs), "--out", str(tmp_path / "dropped"), "--drop-incomplete",
                 "--no-progress", "--name", "oracle=Ground truth oracle"]) == 0
    manifest = read_manifest(tmp_path / "dropped")
    assert len(manifest.scenes) == 6 and len(manifest.methods) == 3
    assert {d["scene"] for d in manifest.dropped} == {"Qualitative/0", f"Qualitative/{HOSTILE_SCENE}"}
    assert "left out" in capsys.readouterr().err


def test_bad_input_is_one_error_and_nothing_is_written(study_runs, tmp_path):
    telea, warp = study_runs["run-telea-sample"], study_runs["run-warp-sample"]
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    cases = [
        (dict(runs=[telea, warp], out=tmp_path / "full"), "exists and is not empty"),
        (dict(runs=[telea], out=tmp_path / "one"), "at least two methods"),
        (dict(runs=[telea, warp], out=tmp_path / "vs", design=StudyDesign(kind="versus-ground-truth")),
         "compares one method"),
        (dict(runs=[telea, warp], out=tmp_path / "n", names={"nope": "X"}), "--name for unknown label"),
        (dict(runs=[telea, warp], out=tmp_path / "n2", names={"telea": HOSTILE_LABEL}), "same display name"),
        (dict(runs=[telea, telea], out=tmp_path / "twice"), "both hold scene"),
        (dict(runs=[telea, warp], out=tmp_path / "d", data={"elsewhere": "x"}), "--data for unknown data"),
    ]
    for kwargs, message in cases:
        runs = kwargs.pop("runs")
        with pytest.raises(RealBenchError, match=message):
            make_study(runs, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]
    assert (tmp_path / "full" / "x").read_text() == "mine"
    for bad in (dict(pool=0), dict(attention_rate=1.5), dict(quality=80), dict(image_format="gif"), dict(seed=1.5)):
        with pytest.raises(RealBenchError):
            StudyDesign(**bad)
    with pytest.raises(RealBenchError, match="redirect_url must be an http"):
        make_study([telea, warp], tmp_path / "js", config={"redirect_url": "javascript:alert(1)"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_a_record_pointing_outside_its_run_or_at_a_changed_image_is_refused(study_runs, tmp_path):
    """... and a blank-canvas run (scene variants, Fig. 11): its images complete no target."""
    warp = study_runs["run-warp-sample"]
    blank = ("blank", lambda r: {**r, "info": {**r.get("info", {}), "canvas": "blank"}}, "from a blank canvas")
    for name, edit, message in (("escape", lambda r: {**r, "image": "../../etc/passwd"}, "not a plain relative path"),
                                blank,
                                ("changed", None, "changed after the run recorded it")):
        copy = Path(shutil.copytree(study_runs["run-telea-sample"], tmp_path / name))
        if edit:
            lines = [json.loads(line) for line in (copy / "records.jsonl").read_text().splitlines()]
            (copy / "records.jsonl").write_text("".join(json.dumps(edit(r)) + "\n" for r in lines))
        else:
            picture = copy / "images" / "rocket-style" / "000.png"
            Image.new("RGB", Image.open(picture).size, (1, 2, 3)).save(picture)
        with pytest.raises(RealBenchError, match=message):
            make_study([copy, warp], tmp_path / f"out-{name}", design=StudyDesign(pool=2))
        assert not (tmp_path / f"out-{name}").exists()


def test_versus_ground_truth_pairs_one_method_with_the_truth(versus_study, capsys):
    manifest = read_manifest(versus_study)
    assert manifest.design.kind == "versus-ground-truth" and [m.key for m in manifest.methods] == ["telea"]
    assert len(manifest.scenes) == 6 and all(s.ground_truth for s in manifest.scenes)
    assert {d["reason"] for d in manifest.dropped} == {"no ground truth"}
    for item in participant_plan(manifest, 0):
        assert sorted(o.source for o in item.options) == (["ground-truth", "method"] if item.kind == "scene"
                                                          else ["broken", "ground-truth"])


def test_cli_make_reports_bad_input_as_realbench_error(study_runs, tmp_path):
    with pytest.raises(RealBenchError, match="--name expects KEY=VALUE"):
        _cli(["study", "make", str(study_runs["run-telea-sample"]), str(study_runs["run-warp-sample"]), "--out",
              str(tmp_path / "x"), "--name", "telea"])
    with pytest.raises(RealBenchError, match="not a study folder"):
        _cli(["study", "analyze", str(tmp_path)])


def test_a_study_config_that_is_an_alias_bomb_is_one_bounded_error(made_study, study_runs, tmp_path):
    """``study make --config`` and a study folder's own study.yaml go through the bounded reader."""
    import time

    from realbench.study.config import load_config

    bomb = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(7))
    (tmp_path / "bomb.yaml").write_text(bomb)
    started = time.perf_counter()
    with pytest.raises(RealBenchError, match="through YAML aliases"):
        _cli(["study", "make", str(study_runs["run-telea-sample"]), str(study_runs["run-warp-sample"]), "--out",
              str(tmp_path / "x"), "--config", str(tmp_path / "bomb.yaml")])
    assert not (tmp_path / "x").exists()
    edited = Path(shutil.copytree(made_study, tmp_path / "edited"))
    (edited / "study.yaml").write_text(bomb)
    with pytest.raises(RealBenchError, match="through YAML aliases"):
        load_config(edited / "study.yaml")
    assert time.perf_counter() - started < 5
