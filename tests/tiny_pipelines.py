"""Tiny SDXL-, FLUX- and Marigold-shaped pipelines and a tiny autoencoder (TAESD) for the tests
(random weights, saved with ``save_pretrained`` and loaded by the backend like real models).
They reuse the parts of the backend's own tiny SD pipeline (``backend.doctor_models``), which
Doctor builds."""

from __future__ import annotations

from pathlib import Path

from backend.doctor_models import (
    TEXT_HIDDEN,
    remove_tree,
    scheduler,
    text_encoder,
    unet,
    vae,
    write_clip_tokenizer,
)


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
        vae=vae(), text_encoder=text_encoder(False), text_encoder_2=text_encoder(True),
        tokenizer=tokenizer, tokenizer_2=tokenizer,
        unet=unet(cross_attention_dim=2 * TEXT_HIDDEN, addition_embed_type="text_time",
                   addition_time_embed_dim=time_dim, use_linear_projection=True,
                   projection_class_embeddings_input_dim=TEXT_HIDDEN + 6 * time_dim,
                   transformer_layers_per_block=(1, 2)),
        scheduler=scheduler(),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    remove_tree(folder / "_tokenizer")
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
        vae=vae(use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035),
        text_encoder=text_encoder(False), tokenizer=CLIPTokenizer.from_pretrained(folder / "_tokenizer"),
        text_encoder_2=T5EncoderModel(T5Config(vocab_size=t5_vocab, d_model=TEXT_HIDDEN, d_kv=8, d_ff=37,
                                               num_layers=2, num_heads=4)),
        tokenizer_2=t5_tokenizer,
        transformer=FluxTransformer2DModel(
            patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=TEXT_HIDDEN, pooled_projection_dim=TEXT_HIDDEN,
            axes_dims_rope=(4, 6, 6)),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    remove_tree(folder / "_tokenizer")
    return folder


# Marigold's appearance model: albedo (sRGB) and a stack of roughness and metallicity (linear).
APPEARANCE_TARGET_PROPERTIES = {
    "target_names": ["albedo", "material"], "albedo": {"prediction_space": "srgb"},
    "material": {"prediction_space": "stack", "sub_target_names": ["roughness", "metallicity", None]},
    "roughness": {"prediction_space": "linear"}, "metallicity": {"prediction_space": "linear"},
}
# Small enough to run in well under a second on a CPU; the real models say 4 steps and 768 px.
TINY_MARIGOLD_STEPS = 2
TINY_MARIGOLD_RESOLUTION = 64


def build_tiny_marigold(folder: str | Path) -> Path:
    """Save tiny random-weight Marigold pipelines in ``folder``'s subfolders ``normals/``,
    ``appearance/`` and ``depth/`` (a maps model folder), shaped like the real ones: the UNet
    reads the image latent and the noise latents concatenated (4 + 4 channels, 4 + 8 for the
    two appearance targets), the text encoder only gives the empty prompt's embedding, and a
    DDIM scheduler with trailing timesteps, as the v1-1 models use."""
    import torch
    from diffusers import (
        DDIMScheduler,
        MarigoldDepthPipeline,
        MarigoldIntrinsicsPipeline,
        MarigoldNormalsPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTokenizer

    folder = Path(folder)
    write_clip_tokenizer(folder / "_tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "_tokenizer")

    def marigold_unet(in_channels: int, out_channels: int):
        shape = unet(cross_attention_dim=TEXT_HIDDEN).config
        return UNet2DConditionModel.from_config(shape, in_channels=in_channels, out_channels=out_channels)

    def components(in_channels: int, out_channels: int) -> dict:
        return dict(
            unet=marigold_unet(in_channels, out_channels), vae=vae(), text_encoder=text_encoder(False),
            tokenizer=tokenizer, default_denoising_steps=TINY_MARIGOLD_STEPS,
            default_processing_resolution=TINY_MARIGOLD_RESOLUTION,
            scheduler=DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                    clip_sample=False, set_alpha_to_one=False, steps_offset=1,
                                    prediction_type="v_prediction", timestep_spacing="trailing"))

    builders = {
        "normals": lambda: MarigoldNormalsPipeline(**components(8, 4), prediction_type="normals"),
        "appearance": lambda: MarigoldIntrinsicsPipeline(**components(12, 8), prediction_type="intrinsics",
                                                         target_properties=APPEARANCE_TARGET_PROPERTIES),
        "depth": lambda: MarigoldDepthPipeline(**components(8, 4), prediction_type="depth"),
    }
    for seed, (name, build) in enumerate(builders.items()):
        torch.manual_seed(seed)
        build().save_pretrained(folder / name, safe_serialization=True)
    remove_tree(folder / "_tokenizer")
    return folder


def build_tiny_autoencoder(folder: str | Path, latent_channels: int = 4) -> Path:
    """Save a tiny random-weight ``AutoencoderTiny`` (TAESD-shaped: four blocks, so it decodes
    latents 1/8 of the image like the tiny pipelines' VAE) in ``folder``."""
    import torch
    from diffusers import AutoencoderTiny

    folder = Path(folder)
    torch.manual_seed(3)
    AutoencoderTiny(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                    num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1),
                    latent_channels=latent_channels).save_pretrained(folder, safe_serialization=True)
    return folder
