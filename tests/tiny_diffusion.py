"""Tiny random SD2-inpainting-style, SD2-base-style (text-to-image), SDXL-inpainting-style,
FLUX.1-Fill-style and Paint-by-Example models, saved with
``save_pretrained`` in the hub repositories' layouts, so tests load them through ``--model <dir>``
like users do."""
from __future__ import annotations

import gzip
import json
from pathlib import Path


def build_clip_tokenizer(folder: Path, pad_token: str = "<|endoftext|>"):
    """A real CLIP BPE tokenizer written offline from the vocabulary file open_clip ships (SDXL's
    second tokenizer pads with "!")."""
    import open_clip.tokenizer as oct
    from transformers import CLIPTokenizer

    bpe_path = Path(oct.default_bpe())
    merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(oct.bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77,
                              pad_token=pad_token)
    tokenizer.save_pretrained(folder)
    return tokenizer


def _unet(cross_attention_dim: int, in_channels: int = 9):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=16, in_channels=in_channels, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim, attention_head_dim=4, norm_num_groups=8)


def _vae():
    from diffusers import AutoencoderKL

    # four blocks: the same 8x downsampling as SD's VAE, so a 256 px scene has 32 x 32 latents
    return AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8, 16, 16, 16), latent_channels=4,
                         down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                         norm_num_groups=8, layers_per_block=1, sample_size=64)


def _text_encoder():
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                        num_attention_heads=4, max_position_embeddings=77))


def save_tiny_sd_inpainting(folder: Path, seed: int = 0) -> Path:
    """Same files as stabilityai/stable-diffusion-2-inpainting: unet (9 input channels), vae,
    text_encoder, tokenizer, scheduler, model_index.json."""
    import torch
    from diffusers import DDPMScheduler, StableDiffusionInpaintPipeline

    torch.manual_seed(seed)
    tokenizer = build_clip_tokenizer(folder / "tokenizer")
    text_encoder = _text_encoder()
    pipe = StableDiffusionInpaintPipeline(
        vae=_vae(), text_encoder=text_encoder, tokenizer=tokenizer, unet=_unet(32),
        scheduler=DDPMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                                beta_end=0.012, steps_offset=1),  # as the hub config
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder


def save_tiny_sd_text_to_image(folder: Path, seed: int = 0) -> Path:
    """Same files as stabilityai/stable-diffusion-2-base (DreamBooth's base): a StableDiffusionPipeline
    with a 4-input-channel UNet, vae, text_encoder, tokenizer, scheduler, model_index.json."""
    import torch
    from diffusers import DDPMScheduler, StableDiffusionPipeline

    torch.manual_seed(seed)
    tokenizer = build_clip_tokenizer(folder / "tokenizer")
    pipe = StableDiffusionPipeline(
        vae=_vae(), text_encoder=_text_encoder(), tokenizer=tokenizer, unet=_unet(32, in_channels=4),
        scheduler=DDPMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                                beta_end=0.012, steps_offset=1, clip_sample=False),  # as the hub config
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder


def save_tiny_sdxl_inpainting(folder: Path, seed: int = 0) -> Path:
    """Same files as diffusers/stable-diffusion-xl-1.0-inpainting-0.1: unet (9 input channels,
    ``text_time`` added conditioning), vae, text_encoder (CLIPTextModel), text_encoder_2
    (CLIPTextModelWithProjection), tokenizer, tokenizer_2, an Euler scheduler, model_index.json."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    text = dict(vocab_size=49408, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(hidden_size=32, **text))
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=32, projection_dim=32, **text))
    time_dim = 8
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=9, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=64, attention_head_dim=4, norm_num_groups=8, transformer_layers_per_block=1,
        addition_embed_type="text_time", addition_time_embed_dim=time_dim,
        projection_class_embeddings_input_dim=6 * time_dim + 32)  # six time ids and the pooled projection
    tokenizer = build_clip_tokenizer(folder / "tokenizer")
    tokenizer_2 = build_clip_tokenizer(folder / "tokenizer_2", pad_token="!")  # as the hub's tokenizer_2
    pipe = StableDiffusionXLInpaintPipeline(
        vae=_vae(), text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer_2, unet=unet, requires_aesthetics_score=False, force_zeros_for_empty_prompt=True,
        scheduler=EulerDiscreteScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                                         beta_end=0.012, steps_offset=1))  # as the hub config
    pipe.save_pretrained(folder)
    return folder


def build_t5_tokenizer(folder: Path):
    """A T5 tokenizer (Unigram, as the hub's tokenizer_2 of FLUX) written offline: the special tokens,
    a few whole words and every lower-case letter and digit, so any prompt tokenizes."""
    import string

    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [("\u2581" + word, -3.0) for word in ("a", "photo", "of", "sks", "high", "quality")]
    pieces += [(c, -5.0) for c in string.ascii_lowercase + string.digits]
    pieces += [("\u2581" + c, -6.0) for c in string.ascii_lowercase + string.digits]
    tokenizer = T5TokenizerFast(vocab=pieces, extra_ids=0)
    tokenizer.save_pretrained(folder)
    return tokenizer


def save_tiny_flux_fill(folder: Path, seed: int = 0) -> Path:
    """Same files and configs as black-forest-labs/FLUX.1-Fill-dev, tiny: transformer
    (FluxTransformer2DModel taking packed latents, masked-image latents and the 8 x 8-folded mask:
    16 + 16 + 256 channels for 4 latent channels; guidance embedding), vae (shift and scaling
    factors of FLUX's, no quant convs), text_encoder (CLIP), text_encoder_2 (T5 encoder),
    tokenizer, tokenizer_2 (T5), a flow-matching Euler scheduler with FLUX's dynamic shifting."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxFillPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    channels, stride = 4, 8
    vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8, 16, 16, 16), latent_channels=channels,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        norm_num_groups=8, layers_per_block=1, sample_size=64, use_quant_conv=False,
                        use_post_quant_conv=False, shift_factor=0.1159, scaling_factor=0.3611)  # FLUX's factors
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=8 * channels + 4 * stride * stride, out_channels=4 * channels, num_layers=1,
        num_single_layers=1, attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
        pooled_projection_dim=32, guidance_embeds=True, axes_dims_rope=[4, 4, 8])
    t5_tokenizer = build_t5_tokenizer(folder / "tokenizer_2")
    t5 = T5EncoderModel(T5Config(vocab_size=len(t5_tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                 relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
                                 decoder_start_token_id=0))
    pipe = FluxFillPipeline(
        vae=vae, text_encoder=_text_encoder(), tokenizer=build_clip_tokenizer(folder / "tokenizer"),
        text_encoder_2=t5, tokenizer_2=t5_tokenizer, transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                                  base_image_seq_len=256, max_image_seq_len=4096))  # as the hub config
    pipe.save_pretrained(folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["tokenizer_2"] = ["transformers", "T5TokenizerFast"]  # as the hub's model_index.json names it
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder


def save_tiny_paint_by_example(folder: Path, seed: int = 0) -> Path:
    """Same layout as Fantasy-Studio/Paint-by-Example, including the model_index.json entry
    ``"image_encoder": ["paint_by_example", "PaintByExampleImageEncoder"]`` that trips current diffusers."""
    import torch
    from diffusers import PNDMScheduler
    from transformers import CLIPImageProcessor, CLIPVisionConfig

    from realbench.methods.paint_by_example import image_encoder_class

    torch.manual_seed(seed)
    encoder = image_encoder_class()(CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                                     num_attention_heads=4, image_size=32, patch_size=8,
                                                     projection_dim=32), proj_size=32)
    folder.mkdir(parents=True, exist_ok=True)
    _unet(32).save_pretrained(folder / "unet")
    _vae().save_pretrained(folder / "vae")
    encoder.save_pretrained(folder / "image_encoder")
    PNDMScheduler(skip_prk_steps=True).save_pretrained(folder / "scheduler")
    CLIPImageProcessor(crop_size=32, size={"shortest_edge": 32}).save_pretrained(folder / "feature_extractor")
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "PaintByExamplePipeline", "_diffusers_version": "0.9.0",
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "image_encoder": ["paint_by_example", "PaintByExampleImageEncoder"],
        "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
        "scheduler": ["diffusers", "PNDMScheduler"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"]}, indent=2))
    return folder


if __name__ == "__main__":  # python tests/tiny_diffusion.py DIR: tiny models for trying the CLI offline
    import sys

    root = Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-models")
    sd, pbe = save_tiny_sd_inpainting(root / "sd2-inpainting"), save_tiny_paint_by_example(root / "paint-by-example")
    sdxl = save_tiny_sdxl_inpainting(root / "sdxl-inpainting")
    base = save_tiny_sd_text_to_image(root / "sd2-base")
    flux = save_tiny_flux_fill(root / "flux-fill")
    print(f"random tiny models (not pretrained; for plumbing checks only) in {root}. Try:\n"
          f"  realbench evaluate --method realfill --model {sd} --scenes chelsea-defocus --samples 2 "
          f"--set train.steps=2 --set train.resolution=64 --set train.batch_size=4 --set sample.steps=2 "
          f"--out runs/tiny-realfill\n"
          f"  realbench evaluate --method realfill --model {sdxl} --scenes chelsea-defocus --samples 2 "
          f"--set train.steps=2 --set train.resolution=64 --set train.batch_size=4 --set sample.steps=2 "
          f"--out runs/tiny-xl\n"
          f"  realbench evaluate --method realfill --model {flux} --scenes chelsea-defocus --samples 2 "
          f"--set train.steps=2 --set train.resolution=64 --set train.batch_size=4 --set sample.steps=2 "
          f"--out runs/tiny-flux\n"
          f"  realbench evaluate --method dreambooth --model {base} --scenes chelsea-defocus --samples 2 "
          f"--set train.steps=2 --set train.resolution=64 --set train.batch_size=4 --set sample.steps=2 "
          f"--set sample.strength=0.5 --out runs/tiny-dreambooth\n"
          f"  realbench evaluate --method sd-inpaint --model {sd} --samples 2 --set steps=2 --out runs/tiny-sd\n"
          f"  realbench evaluate --method paint-by-example --model {pbe} --samples 2 --set steps=2 --out runs/tiny-pbe")
