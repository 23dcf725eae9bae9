"""The study tests' fixtures, a plugin (``pytest_plugins = ["study_fixtures"]`` in each module), so
the session-scoped runs and studies are made once for all study test modules.

Real runs on the built-in sample (6 scenes) and on a two-scene ``Qualitative`` folder without
ground truth whose second scene id is a piece of HTML; one label is HTML too. Studies are made
once per session and copied per test (votes change them).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from study_helpers import HOSTILE_LABEL, HOSTILE_SCENE, RUN_FOLDERS


def qualitative_folder(root: Path) -> Path:
    """A ``Qualitative`` folder (generation only): two scenes without ground truth."""
    from conftest import make_scene

    folder = root / "Qualitative"
    for index, scene_id in enumerate(("0", HOSTILE_SCENE)):
        made = make_scene(folder, scene_id, seed=70 + index, hole="inpaint" if index else "outpaint")
        (made / "target" / "gt.png").unlink()
    return folder


@pytest.fixture(scope="session")
def study_runs(tmp_path_factory) -> dict[str, Path]:
    """telea (2 samples per scene) and homography-warp (labelled with HTML) on the sample and on
    Qualitative, and oracle on the sample only."""
    from realbench.api import evaluate

    root = tmp_path_factory.mktemp("study-runs")
    qual = qualitative_folder(root / "data")
    runs = {}
    plan = [("run-telea-sample", "telea", "sample", "telea", 2), ("run-warp-sample", "homography-warp", "sample",
                                                                  HOSTILE_LABEL, 1),
            ("run-telea-qual", "telea", str(qual), "telea", 2), ("run-warp-qual", "homography-warp", str(qual),
                                                                 HOSTILE_LABEL, 1),
            ("run-oracle-sample", "oracle", "sample", "oracle", 1)]
    for folder, method, data, label, samples in plan:
        evaluate(method, data, out=root / folder, metrics=["none"], select=False, progress=False, label=label,
                 samples=samples)
        runs[folder] = root / folder
    runs["qualitative"] = qual
    return runs


@pytest.fixture(scope="session")
def made_study(study_runs, tmp_path_factory) -> Path:
    """Two methods over 8 scenes (6 sample + 2 Qualitative), 2 attention checks per participant."""
    from realbench.study import StudyDesign, make_study

    out = tmp_path_factory.mktemp("studies") / "main"
    make_study([study_runs[f] for f in RUN_FOLDERS[:4]], out, names={"telea": "Telea"},
               design=StudyDesign(seed=7, attention_rate=0.25, pool=2))
    return out


@pytest.fixture(scope="session")
def versus_study(study_runs, tmp_path_factory) -> Path:
    """telea against the ground truth (the sample's 6 scenes; Qualitative has none)."""
    from realbench.study import StudyDesign, make_study

    out = tmp_path_factory.mktemp("studies") / "versus"
    make_study([study_runs["run-telea-sample"], study_runs["run-telea-qual"]], out,
               design=StudyDesign(kind="versus-ground-truth", seed=3, attention_rate=0.2))
    return out


@pytest.fixture
def study(made_study, tmp_path) -> Path:
    """A fresh copy of the main study (no votes yet)."""
    return Path(shutil.copytree(made_study, tmp_path / "study"))
