"""`realbench weights download` against the simulated internet: only what loading needs, into
the caches the real packages use, resumable, and never "present" when interrupted half-way."""
import filecmp
import json

import pytest
import replicas
from simulated_internet import TransferCut

from realbench.cli import main
from realbench.weights import WeightsMissing, file_complete, resolve


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """Empty HF cache and torch hub; no $REALBENCH_WEIGHTS_DIR (downloads go to the real caches)."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.delenv("REALBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    return tmp_path


def _fetched(internet, repo_id):
    prefix = f"https://huggingface.co/{repo_id}/resolve/"
    return sorted({url[len(prefix):].split("/", 1)[1] for method, url in internet.log
                   if method == "GET" and url.startswith(prefix)})


def test_sd2_inpainting_fetches_only_what_loading_needs(fresh, internet, hub_replicas, capsys):
    assert main(["weights", "download", replicas.SD2]) == 0
    fetched = _fetched(internet, replicas.SD2)
    assert fetched == sorted([
        "model_index.json", "scheduler/scheduler_config.json", "feature_extractor/preprocessor_config.json",
        "text_encoder/config.json", "text_encoder/model.safetensors", "tokenizer/merges.txt",
        "tokenizer/tokenizer.json", "tokenizer/tokenizer_config.json", "tokenizer/vocab.json", "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors"])
    assert not any(".fp16." in f or f.endswith(".ckpt") or f.startswith("512-") for f in fetched)
    found = resolve(replicas.SD2)
    assert found.source == "huggingface cache" and found.path.parent.name == "snapshots"
    assert found.id == f"{replicas.SD2}@{internet.repos[replicas.SD2].sha[:12]}"
    for rel in fetched:
        assert filecmp.cmp(found.path / rel, hub_replicas[replicas.SD2] / rel, shallow=False)
    # the method loads it from there, offline
    from realbench.methods.sd_inpaint import SDInpaint

    assert SDInpaint({}).model_path == found.path


def test_paint_by_example_takes_the_bin_weights_and_skips_the_lightning_checkpoint(fresh, internet):
    assert main(["weights", "download", replicas.PBE]) == 0
    fetched = _fetched(internet, replicas.PBE)
    assert "unet/diffusion_pytorch_model.bin" in fetched and "image_encoder/pytorch_model.bin" in fetched
    assert "model.ckpt" not in fetched and not any(f.startswith("safety_checker") for f in fetched)
    assert resolve(replicas.PBE).path.is_dir()


def test_an_interrupted_hub_download_never_counts_and_resumes_per_file(fresh, internet, capsys):
    internet.cut("unet/diffusion_pytorch_model.safetensors", 2000)
    with pytest.raises(TransferCut):  # the process dies half-way through the UNet
        main(["weights", "download", replicas.SD2])
    with pytest.raises(WeightsMissing):
        resolve(replicas.SD2)
    assert main(["doctor"]) == 0
    assert any(line.split()[:4] == ["method", "realfill", replicas.SD2, "MISSING"]
               for line in capsys.readouterr().out.splitlines())
    # the files that were complete when the process died (downloads run in parallel, so which ones
    # depends on timing): they are kept and never fetched again
    snapshots = fresh / "hf" / "hub" / f"models--{replicas.SD2.replace('/', '--')}" / "snapshots"
    kept = {str(f.relative_to(s)) for s in snapshots.iterdir() for f in s.rglob("*") if f.is_file()}
    assert "model_index.json" in kept and "unet/diffusion_pytorch_model.safetensors" not in kept
    before = len(internet.log)
    assert main(["weights", "download", replicas.SD2]) == 0
    again = [url for method, url in internet.log[before:] if method == "GET" and "/resolve/" in url]
    assert any(url.endswith("unet/diffusion_pytorch_model.safetensors") for url in again)
    assert not [url for url in again if url.split("/resolve/", 1)[1].split("/", 1)[1] in kept]  # kept, not refetched
    assert resolve(replicas.SD2).path.is_dir()


def test_a_plain_url_download_resumes_where_it_stopped(fresh, internet, file_replicas):
    internet.cut("alexnet-owt-7be5be79.pth", 1 << 20)
    with pytest.raises(TransferCut):
        main(["weights", "download", "alexnet"])
    partial = fresh / "torch" / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth.partial"
    assert partial.stat().st_size == 1 << 20
    with pytest.raises(WeightsMissing):
        resolve("alexnet")
    assert main(["weights", "download", "alexnet"]) == 0
    assert (replicas.ALEXNET_URL, f"bytes={1 << 20}-") in internet.ranges
    found = resolve("alexnet")
    assert found.source == "torch hub cache" and not partial.exists()
    assert filecmp.cmp(found.path, file_replicas["alexnet"], shallow=False)


@pytest.mark.parametrize("name", ["unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.bin",
                                  "model_index.json"])
def test_a_file_cut_short_is_not_complete(tmp_path, hub_replicas, name):
    whole = hub_replicas[replicas.SD2] / name
    data = whole.read_bytes()
    cut = tmp_path / whole.name
    cut.write_bytes(data[: len(data) - 7])
    assert file_complete(whole) and not file_complete(cut)


def test_dreamsim_folder_as_the_package_leaves_it_is_present(dreamsim_replica, tmp_path, monkeypatch):
    bundle = dreamsim_replica["bundle"]
    assert not any(p.name.startswith("models--timm") for p in bundle.iterdir())  # the package never makes one
    found = resolve("dreamsim-ensemble", {"dreamsim-ensemble": str(bundle)})
    assert found.path == bundle
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / "dreamsim-ensemble").symlink_to(bundle, target_is_directory=True)
    assert resolve("dreamsim-ensemble").source == "$REALBENCH_WEIGHTS_DIR"


def test_dreamsim_download_is_resumable_and_leaves_the_package_layout(fresh, internet_dreamsim, dreamsim_replica,
                                                                      monkeypatch, capsys):
    monkeypatch.setenv("REALBENCH_WEIGHTS_DIR", str(fresh / "weights"))
    internet_dreamsim.cut("dreamsim_ensemble_checkpoint.zip", 5 << 20)
    with pytest.raises(TransferCut):
        main(["weights", "download", "dreamsim-ensemble"])
    with pytest.raises(WeightsMissing):
        resolve("dreamsim-ensemble")
    assert main(["weights", "download", "dreamsim-ensemble"]) == 0
    assert (replicas.DREAMSIM_URL, f"bytes={5 << 20}-") in internet_dreamsim.ranges
    folder = fresh / "weights" / "dreamsim-ensemble"
    names = {p.name for p in folder.iterdir()}
    assert {"dino_vitb16_pretrain.pth", "clip_vitb16_pretrain.pth.tar", "open_clip_vitb16_pretrain.pth.tar",
            "ensemble_lora", "facebookresearch_dino_main", "checkpoints", "pretrained.zip"} <= names
    assert not any(n.startswith(("__MACOSX", ".unzip")) for n in names)
    assert internet_dreamsim.requests_for("api.github.com") and internet_dreamsim.requests_for("dl.fbaipublicfiles")
    assert resolve("dreamsim-ensemble").path == folder
    import torch

    assert str(torch.hub.get_dir()).startswith(str(fresh / "torch"))  # torch.hub is left where it was


def test_unknown_weights_name_fails_before_any_download(fresh, internet, capsys):
    assert main(["weights", "download", "alexnet", "dino-vit"]) == 2
    assert "Did you mean 'dino-vits16'" in capsys.readouterr().err
    assert not internet.log


def test_weights_list_names_every_fetchable_weight(capsys):
    assert main(["weights", "list"]) == 0
    names = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert {replicas.SD2, replicas.PBE, "dreamsim-ensemble", "clip-vit-b-32-openai", "loftr-outdoor"} <= names


def test_local_diffusers_folder_missing_a_component_is_one_clear_error(tmp_path, hub_replicas):
    import shutil

    from realbench import RealBenchError
    from realbench.methods.sd_inpaint import SDInpaint

    copy = tmp_path / "model"
    shutil.copytree(hub_replicas[replicas.SD2], copy)
    shutil.rmtree(copy / "vae")
    with pytest.raises(RealBenchError, match="missing vae/config.json"):
        SDInpaint({"model": str(copy)})
    index = json.loads((copy / "model_index.json").read_text())
    assert index["vae"] == ["diffusers", "AutoencoderKL"]
