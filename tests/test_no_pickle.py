"""Nothing a user did not create in this very run is unpickled: the code never asks for it, a
crafted training checkpoint is never loaded, a crafted LoFTR file is refused."""
import ast
import pickle
from pathlib import Path

import pytest

from realbench import RealBenchError

PACKAGE = [Path(__file__).resolve().parent.parent / name for name in ("realbench", "methods", "metrics")]


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
            yield node, name, keywords


def test_no_unsafe_load_anywhere_in_the_package():
    problems = []
    for root in PACKAGE:
        for path in root.rglob("*.py"):
            text = path.read_text()
            for needle in ("weights_only=False", "trust_remote_code=True", "pickle.load", "pickle.loads",
                           "torch.save("):
                if needle in text:
                    problems.append(f"{path.name}: {needle}")
            for node, name, keywords in _calls(ast.parse(text)):
                where = f"{path.name}:{node.lineno}"
                if name.endswith("torch.load") and keywords.get("weights_only") != "True":
                    problems.append(f"{where}: torch.load without weights_only=True")
                if name.endswith("yaml.load") or name == "load" and "Loader" in keywords:
                    problems.append(f"{where}: yaml.load (use yaml.safe_load)")
                if "trust_remote_code" in keywords and keywords["trust_remote_code"] != "False":
                    problems.append(f"{where}: trust_remote_code")
    assert not problems, problems


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/realbench-pwned",))


def test_a_pickle_payload_in_a_loftr_file_is_refused(tmp_path, monkeypatch):
    import torch

    Path("/tmp/realbench-pwned").unlink(missing_ok=True)
    folder = tmp_path / "w"
    folder.mkdir()
    torch.save({"state_dict": {}, "evil": _Payload()}, folder / "loftr_outdoor.ckpt")  # what an attacker writes
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(folder))
    from realbench import load_benchmark
    from realbench.selection.correspondences import CorrespondenceScorer

    scorer = CorrespondenceScorer({"matcher": "loftr", "loftr_side": 64})
    scene = load_benchmark("sample")["chelsea-defocus"]
    with pytest.raises(RealBenchError, match="cannot load the LoFTR weights as a plain state dict"):
        scorer.score(scene, scene.gt)
    assert not Path("/tmp/realbench-pwned").exists()


def test_a_pickle_payload_dropped_into_a_training_checkpoint_is_never_loaded(tmp_path):
    import torch

    from realbench.methods.training_state import load_state, save_state

    save_state(tmp_path, {"step": 3, "optimizer": {"state": {0: {"exp_avg": torch.ones(2)}}, "param_groups": []}})
    with open(tmp_path / "state.pt", "wb") as handle:  # the old, pickled format: ignored
        pickle.dump(_Payload(), handle)
    state = load_state(tmp_path)
    assert state["step"] == 3 and torch.equal(state["optimizer"]["state"][0]["exp_avg"], torch.ones(2))
    assert not Path("/tmp/realbench-pwned").exists()
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(RealBenchError, match="cannot read the training checkpoint"):
        load_state(tmp_path)
