"""Faithful local replicas of the real artifacts realbench downloads and reads.

Same repository file sets, folder layouts and config formats as the real ones (as listed on the
Hugging Face hub, or as the packages write them), with random weights: tiny where the
architecture comes from a config file, real-size where a package hard-codes it (DreamSim's three
ViT-B/16 backbones, LoFTR, AlexNet's trunk). Extra files the real repositories carry (fp16
variants, single-file checkpoints) are there too, so a test can prove they are never fetched.
"""
from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

from tiny_diffusion import _text_encoder, _unet, _vae, build_clip_tokenizer

SD2 = "stabilityai/stable-diffusion-2-inpainting"
SD2_BASE = "stabilityai/stable-diffusion-2-base"
PBE = "Fantasy-Studio/Paint-by-Example"
DINO = "facebook/dino-vits16"
DINOV2 = "facebook/dinov2-base"
CLIP_B32 = "timm/vit_base_patch32_clip_224.openai"
ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
LOFTR_URL = "https://huggingface.co/kornia/loftr/resolve/main/loftr_outdoor.ckpt"
DREAMSIM_URL = ("https://github.com/ssundaram21/dreamsim/releases/download/v0.2.0-checkpoints/"
                "dreamsim_ensemble_checkpoint.zip")
DINO_ZIPBALL = "https://github.com/facebookresearch/dino/zipball/main"
DINO_BRANCHES = "https://api.github.com/repos/facebookresearch/dino/branches?per_page=100&page=1"
DINO_VITB16_URL = "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth"
PNDM = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
        "clip_sample": False, "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True,
        "steps_offset": 1, "trained_betas": None}
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _half(state: dict) -> dict:
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def _transformers_weights(model, folder: Path, bin_only: bool = False, fp16: bool = False) -> None:
    """``model.safetensors`` / ``pytorch_model.bin`` (and fp16 twins) as the hub repos hold them."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(state, folder / "pytorch_model.bin")
    if not bin_only:
        save_file(state, str(folder / "model.safetensors"))
    if fp16:
        torch.save(_half(state), folder / "pytorch_model.fp16.bin")
        save_file(_half(state), str(folder / "model.fp16.safetensors"))


def _diffusers_weights(model, folder: Path, bin_only: bool = False) -> None:
    """diffusers' four files per component (safetensors, bin, and their fp16 variants), or .bin only."""
    model.save_pretrained(folder, safe_serialization=False)
    if not bin_only:
        model.save_pretrained(folder)
        model.half().save_pretrained(folder, variant="fp16")
        model.half().save_pretrained(folder, variant="fp16", safe_serialization=False)
        model.float()


def _sd2_repo(folder: Path, seed: int, pipeline: str, in_channels: int, checkpoint: str, repo_id: str,
              version: str, scheduler_extra: dict | None = None) -> Path:
    """A Stable Diffusion 2 repository as on the hub's main branch: model_index.json, unet/ vae/
    (four weight files each), text_encoder/ (four), tokenizer/, scheduler/ (PNDM),
    feature_extractor/, and the root single-file checkpoints ``<checkpoint>.{ckpt,safetensors}``."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPImageProcessor

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    _json(folder / "model_index.json", {
        "_class_name": pipeline, "_diffusers_version": version,
        "feature_extractor": ["transformers", "CLIPImageProcessor"], "requires_safety_checker": False,
        "safety_checker": [None, None], "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]})
    unet, vae, text_encoder = _unet(32, in_channels), _vae(), _text_encoder()
    _diffusers_weights(unet, folder / "unet")
    _diffusers_weights(vae, folder / "vae")
    _transformers_weights(text_encoder, folder / "text_encoder", fp16=True)
    build_clip_tokenizer(folder / "tokenizer")
    _json(folder / "scheduler" / "scheduler_config.json", {**PNDM, "_diffusers_version": version,
                                                           **(scheduler_extra or {})})
    CLIPImageProcessor(crop_size=224, size=224).save_pretrained(folder / "feature_extractor")
    merged = {f"model.diffusion_model.{k}": v.contiguous() for k, v in unet.state_dict().items()}
    torch.save({"state_dict": merged}, folder / f"{checkpoint}.ckpt")
    save_file(merged, str(folder / f"{checkpoint}.safetensors"))
    (folder / "README.md").write_text("---\nlicense: openrail++\n---\n# replica of " + repo_id + "\n")
    (folder / ".gitattributes").write_text("*.ckpt filter=lfs diff=lfs merge=lfs -text\n")
    return folder


def sd2_inpainting_repo(folder: Path, seed: int = 0) -> Path:
    """stabilityai/stable-diffusion-2-inpainting: a 9-input-channel UNet, ``512-inpainting-ema.*``."""
    return _sd2_repo(folder, seed, "StableDiffusionInpaintPipeline", 9, "512-inpainting-ema", SD2, "0.8.0")


def sd2_base_repo(folder: Path, seed: int = 0) -> Path:
    """stabilityai/stable-diffusion-2-base (DreamBooth's base): a StableDiffusionPipeline, a
    4-input-channel UNet, an epsilon-predicting PNDM scheduler, ``512-base-ema.*`` at the root."""
    return _sd2_repo(folder, seed, "StableDiffusionPipeline", 4, "512-base-ema", SD2_BASE, "0.10.0.dev0",
                     {"prediction_type": "epsilon"})


def paint_by_example_repo(folder: Path, seed: int = 0) -> Path:
    """Fantasy-Studio/Paint-by-Example as on the hub: .bin weights only, the model_index.json entry
    ``"image_encoder": ["paint_by_example", "PaintByExampleImageEncoder"]``, no safety checker
    folder, and the 12 GB Lightning ``model.ckpt`` at the root (a small one here)."""
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionConfig

    from realbench.methods.paint_by_example import image_encoder_class

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    encoder = image_encoder_class()(CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                                     num_attention_heads=4, image_size=32, patch_size=8,
                                                     projection_dim=32), proj_size=32)
    unet = _unet(32)
    _diffusers_weights(unet, folder / "unet", bin_only=True)
    _diffusers_weights(_vae(), folder / "vae", bin_only=True)
    _transformers_weights(encoder, folder / "image_encoder", bin_only=True)
    _json(folder / "scheduler" / "scheduler_config.json",
          {**PNDM, "_diffusers_version": "0.10.0.dev0", "prediction_type": "epsilon"})
    CLIPImageProcessor(crop_size=32, size={"shortest_edge": 32}).save_pretrained(folder / "feature_extractor")
    _json(folder / "model_index.json", {
        "_class_name": "PaintByExamplePipeline", "_diffusers_version": "0.10.0.dev0",
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "image_encoder": ["paint_by_example", "PaintByExampleImageEncoder"],
        "requires_safety_checker": False, "safety_checker": [None, None],
        "scheduler": ["diffusers", "PNDMScheduler"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"]})
    torch.save({"state_dict": {f"model.{k}": v for k, v in unet.state_dict().items()}}, folder / "model.ckpt")
    (folder / "README.md").write_text("# replica of " + PBE + "\n")
    return folder


def dino_vits16_repo(folder: Path, seed: int = 0) -> Path:
    """facebook/dino-vits16: config.json (ViTModel), preprocessor_config.json, pytorch_model.bin."""
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(seed)
    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=224, patch_size=16, architectures=["ViTModel"])
    _transformers_weights(ViTModel(config, add_pooling_layer=False), folder, bin_only=True)
    ViTImageProcessor(image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225], resample=2,
                      size={"height": 224, "width": 224}).save_pretrained(folder)
    (folder / "README.md").write_text("# replica of " + DINO + "\n")
    return folder


def dinov2_base_repo(folder: Path, seed: int = 0) -> Path:
    """facebook/dinov2-base: config.json, preprocessor_config.json (BitImageProcessor, resize 256,
    crop 224), model.safetensors and pytorch_model.bin."""
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    config = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=518,
                          patch_size=14, architectures=["Dinov2Model"])
    _transformers_weights(Dinov2Model(config), folder)
    BitImageProcessor(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224}, do_center_crop=True,
                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
                      resample=3).save_pretrained(folder)
    return folder


def clip_b32_repo(folder: Path, seed: int = 0) -> Path:
    """timm/vit_base_patch32_clip_224.openai: open_clip_config.json (model_cfg + preprocess_cfg),
    open_clip_model.safetensors, open_clip_pytorch_model.bin, and timm's own files beside them."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    model_cfg = {"embed_dim": 16, "quick_gelu": True,
                 "vision_cfg": {"image_size": 224, "layers": 2, "width": 32, "head_width": 16, "patch_size": 32},
                 "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": model_cfg,
        "preprocess_cfg": {"mean": CLIP_MEAN, "std": CLIP_STD, "interpolation": "bicubic", "resize_mode": "shortest"},
    }, indent=2))
    torch.manual_seed(seed)
    model = open_clip.CLIP(**model_cfg)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))
    torch.save(state, folder / "open_clip_pytorch_model.bin")
    torch.save({f"visual.{k}": v for k, v in model.visual.state_dict().items()}, folder / "pytorch_model.bin")
    _json(folder / "config.json", {"architecture": "vit_base_patch32_clip_224", "num_classes": 512,
                                   "pretrained_cfg": {"tag": "openai"}})
    return folder


def full_size_metric_weights(root: Path, dreamsim: bool = False) -> Path:
    """The learned metrics' real architectures with random values where realbench's resolver looks
    ($REALBENCH_WEIGHTS_DIR): AlexNet, DINO ViT-S/16, OpenCLIP ViT-B/32 (no open_clip_config.json:
    its built-in config) and, with ``dreamsim``, DreamSim's three ViT-B/16. For benchmarks, whose
    timings depend on the architecture, not the values."""
    import open_clip
    import torch
    from transformers import ViTConfig, ViTModel

    alexnet_file(root)
    torch.manual_seed(0)
    vit = ViTModel(ViTConfig(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                             image_size=224, patch_size=16), add_pooling_layer=False)
    vit.save_pretrained(root / "dino-vits16")
    folder = root / "clip-vit-b-32-openai"
    folder.mkdir()
    torch.save(open_clip.create_model("ViT-B-32").state_dict(), folder / "open_clip_pytorch_model.bin")
    if dreamsim:
        bundle = dreamsim_artifacts(root / "dreamsim-build")["bundle"]
        (root / "dreamsim-ensemble").symlink_to(bundle, target_is_directory=True)
    return root


def alexnet_file(folder: Path, seed: int = 0) -> Path:
    """torchvision's AlexNet checkpoint under torch hub's file name (the conv trunk LPIPS reads)."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    state = {k: v for k, v in torchvision.models.alexnet(weights=None).state_dict().items()
             if k.startswith("features.")}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "alexnet-owt-7be5be79.pth"
    torch.save(state, path)
    return path


def loftr_file(folder: Path, seed: int = 0) -> Path:
    """kornia's LoFTR outdoor checkpoint: ``{"state_dict": ...}`` of the real architecture."""
    import torch
    from kornia.feature import LoFTR

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "loftr_outdoor.ckpt"
    torch.save({"state_dict": LoFTR(pretrained=None).state_dict()}, path)
    return path


# ---------------------------------------------------------------------- DreamSim

HUBCONF = '''"""Stand-in for facebookresearch/dino's hubconf.py: the same entry point, URL and loading
(written for realbench's tests; the model code beside it is the copy dreamsim vendors)."""
import torch

import vision_transformer as vits

dependencies = ["torch", "torchvision"]


def dino_vitb16(pretrained=True, **kwargs):
    model = vits.__dict__["vit_base"](patch_size=16, num_classes=0, **kwargs)
    if pretrained:
        state_dict = torch.hub.load_state_dict_from_url(
            url="https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
            map_location="cpu")
        model.load_state_dict(state_dict, strict=True)
    return model
'''


def _random_state(module, generator) -> dict:
    """A state dict of ``module``'s shapes: normal(0, 0.02) weights, unit norms, zero biases."""
    import torch

    out = {}
    for key, value in module.state_dict().items():
        if key.endswith("bias"):
            out[key] = torch.zeros_like(value)
        elif value.dim() == 1 and ("norm" in key or key.endswith(("ln_pre.weight", "pos_drop.weight"))):
            out[key] = torch.ones_like(value)
        else:
            out[key] = torch.randn(value.shape, generator=generator) * 0.02
    return out


def dreamsim_artifacts(root: Path, seed: int = 0) -> dict[str, Path]:
    """Everything the DreamSim journey touches, built once: the release zip, the DINO GitHub
    repository zip and its hub checkpoint, and ``bundle``: the folder exactly as
    ``dreamsim(pretrained=True, cache_dir=bundle)`` leaves it after one online run."""
    import dreamsim.feature_extraction.vision_transformer as vendored
    import torch
    from peft import LoraConfig, get_peft_model

    generator = torch.Generator().manual_seed(seed)
    bundle = root / "bundle"
    bundle.mkdir(parents=True)
    vit = vendored.vit_base(patch_size=16, num_classes=0)
    torch.save(_random_state(vit, generator), root / "dino_vitbase16_pretrain.pth")  # the hub checkpoint
    for name in ("clip_vitb16_pretrain.pth.tar", "open_clip_vitb16_pretrain.pth.tar"):
        vit.pos_drop = torch.nn.LayerNorm(768)
        state = _random_state(vit, generator)
        state["proj"] = torch.randn(768, 512, generator=generator) * 0.02
        torch.save({"state_dict": state, "epoch": 0}, bundle / name)
    head = {"module.head.mlp.0.weight": (2048, 768), "module.head.mlp.0.bias": (2048,),
            "module.head.mlp.2.weight": (2048, 2048), "module.head.mlp.2.bias": (2048,),
            "module.head.mlp.4.weight": (256, 2048), "module.head.mlp.4.bias": (256,),
            "module.head.last_layer.weight": (65536, 256)}
    torch.save({"student": {k: torch.randn(shape, generator=generator) * 0.02 for k, shape in head.items()},
                "epoch": 100}, bundle / "dino_vitb16_pretrain.pth")
    repo = root / "facebookresearch-dino-7c446df"
    repo.mkdir()
    (repo / "hubconf.py").write_text(HUBCONF)
    shutil.copy(vendored.__file__, repo / "vision_transformer.py")
    with zipfile.ZipFile(root / "dino-main.zip", "w") as archive:  # GitHub's zipball: the folder entry first
        archive.writestr(f"{repo.name}/", b"")
        for path in sorted(repo.iterdir()):
            archive.write(path, f"{repo.name}/{path.name}")
    # the hub clone and checkpoint as torch.hub leaves them, then the LoRA trained on top
    shutil.copytree(repo, bundle / "facebookresearch_dino_main")
    (bundle / "checkpoints").mkdir()
    os.link(root / "dino_vitbase16_pretrain.pth", bundle / "checkpoints" / "dino_vitbase16_pretrain.pth")
    from dreamsim.config import dreamsim_args
    from dreamsim.model import PerceptualModel

    old_hub = torch.hub._hub_dir
    try:
        model = PerceptualModel(**dreamsim_args["model_config"]["ensemble"], device="cpu", load_dir=str(bundle),
                                normalize_embeds=True)
    finally:
        torch.hub._hub_dir = old_hub
    lora = get_peft_model(model, LoraConfig(r=16, lora_alpha=0.5, lora_dropout=0.3, bias="none",
                                            target_modules=["qkv"]))
    with torch.no_grad():
        for name, param in lora.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    lora.save_pretrained(str(bundle / "ensemble_lora"))
    release = root / "dreamsim_ensemble_checkpoint.zip"
    with zipfile.ZipFile(release, "w") as archive:  # stored: these are float tensors anyway
        for name in ("dino_vitb16_pretrain.pth", "clip_vitb16_pretrain.pth.tar", "open_clip_vitb16_pretrain.pth.tar"):
            archive.write(bundle / name, name)
        for path in sorted((bundle / "ensemble_lora").iterdir()):
            archive.write(path, f"ensemble_lora/{path.name}")
    os.link(release, bundle / "pretrained.zip")  # the package keeps its download beside the files
    (bundle / "trusted_list").touch()
    return {"bundle": bundle, "release": release, "dino_zip": root / "dino-main.zip",
            "dino_checkpoint": root / "dino_vitbase16_pretrain.pth"}


# ---------------------------------------------------------------------- the release archive

def release_archive(root: Path, scenes: dict[str, dict] | None = None) -> Path:
    """``realfill_data_release_full.zip`` unzipped: ``__MACOSX/`` beside
    ``realfill_data_release_full/{RealBench/<id>, Qualitative/<id>}``, numeric ids, ``._*``
    AppleDouble files and ``.DS_Store`` everywhere a Mac put them, one 1024x1024 scene, and
    ``Qualitative/`` without ground truth. Returns the unzip root."""
    from conftest import make_scene

    scenes = scenes or {"0": {"hole": "outpaint"}, "1": {"hole": "inpaint", "refs": 3},
                        "2": {"size": (1024, 1024), "hole": "inpaint"}, "10": {"hole": "outpaint", "size": (48, 64)}}
    top = root / "realfill_data_release_full"
    bench = top / "RealBench"
    for index, (scene_id, options) in enumerate(scenes.items()):
        make_scene(bench, scene_id, seed=index, **options)
    for index, scene_id in enumerate(("0", "1")):
        folder = make_scene(top / "Qualitative", scene_id, seed=50 + index)
        (folder / "target" / "gt.png").unlink()
    junk = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(64)
    for folder in [top, bench, top / "Qualitative", *bench.iterdir(), *(top / "Qualitative").iterdir()]:
        (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(32))
    for path in sorted(p for p in top.rglob("*") if p.is_file() and not p.name.startswith(".")):
        (path.parent / f"._{path.name}").write_bytes(junk)
        mirror = root / "__MACOSX" / path.relative_to(root).parent / f"._{path.name}"
        mirror.parent.mkdir(parents=True, exist_ok=True)
        mirror.write_bytes(junk)
    return root


def zip_folder(root: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(root.rglob("*")):
            out.write(path, path.relative_to(root).as_posix() + ("/" if path.is_dir() else ""))
    return archive
