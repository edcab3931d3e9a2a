"""Doctor's tiny random-weight SD pipeline, written to a folder like any downloaded model.

Doctor loads it through the same ``from_pretrained`` path as real models, so the whole texture
path is proved offline in seconds. The shape keeps what matters: a 4-block VAE (latents are 1/8
of the image), a cross-attention UNet and a CLIP text encoder; native size 64 x 64 pixels. The
parts (tokenizer, encoders, VAE, UNet, scheduler) are public so other tiny shapes can reuse them.
"""

from __future__ import annotations

import json
from pathlib import Path

_CLIP_SPECIALS = ("<|startoftext|>", "<|endoftext|>")
TEXT_HIDDEN = 32


def write_clip_tokenizer(folder: Path) -> None:
    """A byte-level CLIP tokenizer without merges: every byte is a token."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    chars = sorted(ByteLevel.alphabet())  # the 256 printable stand-ins for the bytes
    vocab = {token: i for i, token in enumerate(chars + [c + "</w>" for c in chars] + list(_CLIP_SPECIALS))}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                              pad_token="<|endoftext|>", model_max_length=77)
    tokenizer.save_pretrained(folder)


def text_encoder(with_projection: bool):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    vocab_size = 2 * 256 + len(_CLIP_SPECIALS)
    config = CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=TEXT_HIDDEN, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, projection_dim=TEXT_HIDDEN,
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1,
    )
    torch.manual_seed(1)
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def vae(**extra):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=64, layers_per_block=1,
        block_out_channels=(16, 16, 32, 32), norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, **extra,
    )


def unet(**extra):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), norm_num_groups=16, attention_head_dim=(2, 4),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), **extra,
    )


def scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                  timestep_spacing="trailing", steps_offset=1)


def build_tiny_sd(folder: str | Path) -> Path:
    """Save a tiny Stable Diffusion 1.x-shaped pipeline in ``folder``; returns the folder."""
    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    folder = Path(folder)
    write_clip_tokenizer(folder / "_tokenizer")
    torch.manual_seed(0)
    pipe = StableDiffusionPipeline(
        vae=vae(), text_encoder=text_encoder(False),
        tokenizer=CLIPTokenizer.from_pretrained(folder / "_tokenizer"),
        unet=unet(cross_attention_dim=TEXT_HIDDEN), scheduler=scheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    remove_tree(folder / "_tokenizer")
    return folder


def remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
