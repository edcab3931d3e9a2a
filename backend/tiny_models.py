"""Tiny random-weight diffusers pipelines, written to a folder like any downloaded model.

``doctor`` and the tests load them through the same ``from_pretrained`` path as real models,
so the whole backend can be exercised offline in seconds. The shapes keep what matters: a
4-block VAE (latents are 1/8 of the image), cross-attention UNets, CLIP text encoders, and for
SDXL two text encoders with ``text_time`` conditioning, for FLUX a T5 encoder and a flow
transformer. Native size: 64 x 64 pixels (FLUX pipelines always default to 1024; pass a size).
"""

from __future__ import annotations

import json
from pathlib import Path

_CLIP_SPECIALS = ("<|startoftext|>", "<|endoftext|>")
_TEXT_HIDDEN = 32


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


def _text_encoder(with_projection: bool):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    vocab_size = 2 * 256 + len(_CLIP_SPECIALS)
    config = CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=_TEXT_HIDDEN, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, projection_dim=_TEXT_HIDDEN,
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1,
    )
    torch.manual_seed(1)
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def _vae(**extra):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=64, layers_per_block=1,
        block_out_channels=(16, 16, 32, 32), norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, **extra,
    )


def _unet(**extra):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), norm_num_groups=16, attention_head_dim=(2, 4),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), **extra,
    )


def _scheduler():
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
        vae=_vae(), text_encoder=_text_encoder(False),
        tokenizer=CLIPTokenizer.from_pretrained(folder / "_tokenizer"),
        unet=_unet(cross_attention_dim=_TEXT_HIDDEN), scheduler=_scheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    _remove_tree(folder / "_tokenizer")
    return folder


def build_tiny_sdxl(folder: str | Path) -> Path:
    """Save a tiny SDXL-shaped pipeline (two text encoders, ``text_time``) in ``folder``."""
    import torch
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTokenizer

    folder = Path(folder)
    write_clip_tokenizer(folder / "_tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "_tokenizer")
    time_dim = 8
    torch.manual_seed(0)
    pipe = StableDiffusionXLPipeline(
        vae=_vae(), text_encoder=_text_encoder(False), text_encoder_2=_text_encoder(True),
        tokenizer=tokenizer, tokenizer_2=tokenizer,
        unet=_unet(cross_attention_dim=2 * _TEXT_HIDDEN, addition_embed_type="text_time",
                   addition_time_embed_dim=time_dim, use_linear_projection=True,
                   projection_class_embeddings_input_dim=_TEXT_HIDDEN + 6 * time_dim,
                   transformer_layers_per_block=(1, 2)),
        scheduler=_scheduler(),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    _remove_tree(folder / "_tokenizer")
    return folder


def _t5_tokenizer():
    """A byte-level Unigram tokenizer in T5's clothes (pad 0, eos 1, unk 2)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import T5TokenizerFast

    specials = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab = specials + [(c, -1.0) for c in sorted(ByteLevel.alphabet())]
    backend = Tokenizer(models.Unigram(vocab, unk_id=2))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = T5TokenizerFast(tokenizer_object=backend, eos_token="</s>", unk_token="<unk>",
                                pad_token="<pad>", extra_ids=0, model_max_length=512)
    return tokenizer, len(vocab)


def build_tiny_flux(folder: str | Path) -> Path:
    """Save a tiny FLUX-shaped pipeline (CLIP + T5 encoders, flow-matching transformer)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTokenizer, T5Config, T5EncoderModel

    folder = Path(folder)
    write_clip_tokenizer(folder / "_tokenizer")
    t5_tokenizer, t5_vocab = _t5_tokenizer()
    torch.manual_seed(0)
    pipe = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=_vae(use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035),
        text_encoder=_text_encoder(False), tokenizer=CLIPTokenizer.from_pretrained(folder / "_tokenizer"),
        text_encoder_2=T5EncoderModel(T5Config(vocab_size=t5_vocab, d_model=_TEXT_HIDDEN, d_kv=8, d_ff=37,
                                               num_layers=2, num_heads=4)),
        tokenizer_2=t5_tokenizer,
        transformer=FluxTransformer2DModel(
            patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=_TEXT_HIDDEN, pooled_projection_dim=_TEXT_HIDDEN,
            axes_dims_rope=(4, 6, 6)),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    _remove_tree(folder / "_tokenizer")
    return folder


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
