"""Shared fixtures: an isolated cache for the sample benchmark, scene-folder builders, dev data."""
from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DEV_DATA = REPO.parent / "shared" / "realbench-dev"

# One cache per test session, so tests never touch (or depend on) the user's ~/.cache.
_CACHE = tempfile.mkdtemp(prefix="realbench-test-cache-")
os.environ["REALBENCH_CACHE"] = _CACHE
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent))
if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers on two cores: one thread each, not two apiece
    for _threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_threads, "1")  # children (CLI subprocesses) inherit it
    import torch  # noqa: E402

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

from simulated_internet import SimulatedInternet, guard_sockets  # noqa: E402

_NETWORK_ATTEMPTS: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _guard_network():
    """Every test runs with non-loopback connections refused (and recorded)."""
    with pytest.MonkeyPatch.context() as patch:
        guard_sockets(patch, _NETWORK_ATTEMPTS)
        yield


@pytest.fixture(autouse=True)
def _no_network_attempt():
    """A test fails if anything in it tried to reach the network, even if the caller swallowed it."""
    before = len(_NETWORK_ATTEMPTS)
    yield
    tried = _NETWORK_ATTEMPTS[before:]
    if tried:
        pytest.fail(f"tests never reach the network; this test tried: {tried}")


# ---------------------------------------------------------------------- replicas of real artifacts

@pytest.fixture(scope="session")
def replica_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("replicas")


class Replicas(dict):
    """Replica folders built on first use and kept for the session: a test pays only for the
    replicas it touches (a metric's contract test never builds a diffusion model)."""

    def __init__(self, builders: dict[str, Callable[[], Path]]):
        super().__init__()
        self.builders = builders

    def __missing__(self, key: str) -> Path:
        self[key] = self.builders[key]()
        return self[key]

    def names(self) -> list[str]:
        return list(self.builders)


@pytest.fixture(scope="session")
def hub_replicas(replica_root) -> Replicas:
    """The Hugging Face repositories realbench uses, as folders in their hub layouts."""
    import replicas

    hub = replica_root / "hub"
    return Replicas({
        replicas.SD2: lambda: replicas.sd2_inpainting_repo(hub / "sd2-inpainting"),
        replicas.SD2_BASE: lambda: replicas.sd2_base_repo(hub / "sd2-base"),
        replicas.PBE: lambda: replicas.paint_by_example_repo(hub / "paint-by-example"),
        replicas.DINO: lambda: replicas.dino_vits16_repo(hub / "dino-vits16"),
        replicas.DINOV2: lambda: replicas.dinov2_base_repo(hub / "dinov2-base"),
        replicas.CLIP_B32: lambda: replicas.clip_b32_repo(hub / "clip-b32"),
    })


@pytest.fixture(scope="session")
def file_replicas(replica_root) -> dict[str, Path]:
    import replicas

    return {"alexnet": replicas.alexnet_file(replica_root / "files"),
            "loftr": replicas.loftr_file(replica_root / "files")}


@pytest.fixture(scope="session")
def dreamsim_replica(replica_root) -> dict[str, Path]:
    """DreamSim's release zip, DINO's GitHub repository and checkpoint, and the folder the package
    leaves behind: real-size random ViT-B/16 weights (the package hard-codes the architecture)."""
    import replicas

    return replicas.dreamsim_artifacts(replica_root / "dreamsim")


@pytest.fixture
def weights_dir(tmp_path, monkeypatch, hub_replicas, file_replicas) -> Path:
    """``$REALBENCH_WEIGHTS_DIR`` holding the cheap replicas under their weights names."""
    import replicas

    root = tmp_path / "weights"
    root.mkdir()
    for name, repo in (("dino-vits16", replicas.DINO), ("dinov2-base", replicas.DINOV2),
                       ("clip-vit-b-32-openai", replicas.CLIP_B32)):
        (root / name).symlink_to(hub_replicas[repo], target_is_directory=True)
    (root / "alexnet-owt-7be5be79.pth").symlink_to(file_replicas["alexnet"])
    (root / "loftr_outdoor.ckpt").symlink_to(file_replicas["loftr"])
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(root))
    return root


@pytest.fixture
def internet(monkeypatch, hub_replicas, file_replicas):
    """The simulated internet serving every replica except DreamSim's (see ``internet_dreamsim``)."""
    import replicas

    net = SimulatedInternet()
    for repo_id in hub_replicas.names():
        net.add_repo(repo_id, lambda repo_id=repo_id: hub_replicas[repo_id])
    net.add_url(replicas.ALEXNET_URL, file_replicas["alexnet"])
    net.add_url(replicas.LOFTR_URL, file_replicas["loftr"])
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)  # the (simulated) network is up
    net.install(monkeypatch)
    yield net
    SimulatedInternet.uninstall()
    assert not net.refused, f"something asked the simulated internet for what it does not serve: {net.refused}"


@pytest.fixture
def internet_dreamsim(internet, dreamsim_replica):
    import json as _json

    import replicas

    internet.add_url(replicas.DREAMSIM_URL, dreamsim_replica["release"])
    internet.add_url(replicas.DINO_ZIPBALL, dreamsim_replica["dino_zip"])
    internet.add_url(replicas.DINO_VITB16_URL, dreamsim_replica["dino_checkpoint"])
    internet.add_url(replicas.DINO_BRANCHES, _json.dumps(
        [{"name": "main", "commit": {"sha": "7c446df5b9f45747937fb0d72314eb9f7b66930a"}}]).encode())
    return internet


@pytest.fixture(scope="session")
def sample_bench():
    from realbench import load_benchmark

    return load_benchmark("sample")


MINI = REPO / "data" / "scenes" / "realbench-mini"  # real photos inside the repository (data/scenes/README.md)


@pytest.fixture
def dev_data() -> Path:
    """Three real scenes in the release layout, shipped in the repository: never skips."""
    return MINI


def photo(height: int = 64, width: int = 80, seed: int = 0) -> np.ndarray:
    """A smooth random colour image (smooth so that inpainting and SSIM behave like on photos)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BILINEAR))


def make_scene(root: Path, scene_id: str = "s1", size=(64, 80), refs: int = 2, hole: str = "inpaint",
               seed: int = 0) -> Path:
    """Write one scene in the release layout and return its folder."""
    h, w = size
    gt = photo(h, w, seed)
    mask = np.zeros((h, w), np.uint8)
    if hole == "inpaint":
        mask[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 255
    else:
        mask[:, : w // 3] = 255
    target = gt.copy()
    target[mask > 0] = 255
    folder = root / scene_id
    (folder / "ref").mkdir(parents=True)
    (folder / "target").mkdir(parents=True)
    Image.fromarray(gt).save(folder / "target" / "gt.png")
    Image.fromarray(target).save(folder / "target" / "target.png")
    Image.fromarray(mask).save(folder / "target" / "mask.png")
    for index in range(refs):
        Image.fromarray(photo(h + 8 * index, w, seed + 100 + index)).save(folder / "ref" / f"{index:02d}.jpg")
    return folder
