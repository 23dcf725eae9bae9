"""Tiny randomly initialised stand-ins for the pretrained networks, saved in the same formats
and places users' real weights live, so tests load them through the user's code path."""
from __future__ import annotations

import json
from pathlib import Path

TINY_CLIP = "realbench-tiny-clip"


def save_alexnet(folder: Path, seed: int = 0) -> Path:
    """torchvision AlexNet in torch hub's file name (only the conv trunk LPIPS reads, to stay small)."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    state = {k: v for k, v in torchvision.models.alexnet(weights=None).state_dict().items() if k.startswith("features.")}
    path = folder / "alexnet-owt-7be5be79.pth"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def save_vit(folder: Path, seed: int = 0) -> Path:
    """A 2-layer ViT with its image processor, as ``save_pretrained`` writes them (facebook/dino-vits16 format)."""
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(seed)
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64)
    ViTModel(config, add_pooling_layer=False).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def register_tiny_clip(tmp: Path) -> None:
    import open_clip

    if TINY_CLIP in open_clip.list_models():
        return
    config = {"embed_dim": 16,
              "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    path = tmp / f"{TINY_CLIP}.json"
    path.write_text(json.dumps(config))
    open_clip.add_model_config(path)


def save_clip(weights_dir: Path, seed: int = 0) -> Path:
    """A tiny OpenCLIP model's state dict where ``clip.model=realbench-tiny-clip, pretrained=random`` looks."""
    import open_clip
    import torch

    register_tiny_clip(weights_dir)
    torch.manual_seed(seed)
    model = open_clip.create_model(TINY_CLIP)
    folder = weights_dir / f"clip-{TINY_CLIP}-random"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder / "open_clip_pytorch_model.bin"


def make_weights_dir(root: Path) -> Path:
    save_alexnet(root)
    save_vit(root / "dino-vits16")
    save_clip(root)
    return root


class FakeDreamSimBackend:
    """Stands in for the DreamSim network: a fixed random projection of a pooled image."""

    def __init__(self, seed: int = 0, dim: int = 24):
        import torch

        generator = torch.Generator().manual_seed(seed)
        self.projection = torch.randn(3 * 14 * 14, dim, generator=generator)
        self.calls = 0

    def embed(self, pixels):
        import torch.nn.functional as F

        self.calls += 1
        assert pixels.shape[1:] == (3, 224, 224) and 0 <= float(pixels.min()) and float(pixels.max()) <= 1
        return F.avg_pool2d(pixels, 16).flatten(1) @ self.projection.to(pixels.device)
