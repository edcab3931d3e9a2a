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
    torch.manual_seed(0)
    pipe = StableDiffusionXLPipeline(
        vae=vae(), text_encoder=text_encoder(False), text_encoder_2=text_encoder(True),
        tokenizer=tokenizer, tokenizer_2=tokenizer,
        unet=sdxl_unet(), scheduler=scheduler(),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    remove_tree(folder / "_tokenizer")
    return folder


def sdxl_unet():
    """The tiny SDXL-shaped UNet: two text encoders' width and ``text_time`` conditioning."""
    time_dim = 8
    return unet(cross_attention_dim=2 * TEXT_HIDDEN, addition_embed_type="text_time",
                addition_time_embed_dim=time_dim, use_linear_projection=True,
                projection_class_embeddings_input_dim=TEXT_HIDDEN + 6 * time_dim,
                transformer_layers_per_block=(1, 2))


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


def build_tiny_sd_reading(folder: str | Path, text_width: int = 768) -> Path:
    """Save a tiny SD-shaped pipeline whose UNet reads prompt embeddings ``text_width`` wide, as
    SD 1.x's (768) or SD 2.x's (1024) do: the tiny text encoder's output is projected up to it
    (``encoder_hid_dim``). The control model table tells the SD versions apart by this width."""
    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    folder = Path(folder)
    write_clip_tokenizer(folder / "_tokenizer")
    torch.manual_seed(0)
    StableDiffusionPipeline(
        vae=vae(), text_encoder=text_encoder(False),
        tokenizer=CLIPTokenizer.from_pretrained(folder / "_tokenizer"),
        unet=unet(cross_attention_dim=text_width, encoder_hid_dim=TEXT_HIDDEN), scheduler=scheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    ).save_pretrained(folder, safe_serialization=True)
    remove_tree(folder / "_tokenizer")
    return folder


def build_tiny_controlnet(folder: str | Path, for_sdxl: bool = False) -> Path:
    """Save a tiny random-weight depth ControlNet for the tiny SD pipeline (``for_sdxl``: for the
    tiny SDXL one) in ``folder``. Four conditioning blocks reduce the control image 8x, as the
    VAE reduces the picture. A real ControlNet starts with zero convolutions (no effect until
    trained); these get random weights, and the control image's encoder gets He-scaled ones
    (the default scale fades the picture to almost nothing through its eight layers), so the
    control image changes the result and a test that it reaches the pipeline can fail."""
    import torch
    from diffusers import ControlNetModel

    folder = Path(folder)
    torch.manual_seed(5)
    controlnet = ControlNetModel.from_unet(sdxl_unet() if for_sdxl else unet(cross_attention_dim=TEXT_HIDDEN),
                                           conditioning_embedding_out_channels=(4, 8, 8, 16))
    with torch.no_grad():
        for convolution in (*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block):
            convolution.weight.normal_(0.0, 0.3)
            convolution.bias.normal_(0.0, 0.1)
        for convolution in controlnet.controlnet_cond_embedding.modules():
            if isinstance(convolution, torch.nn.Conv2d):
                convolution.weight.normal_(0.0, (2 / convolution.weight[0].numel()) ** 0.5)
                convolution.bias.zero_()
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_flux_controlnet(folder: str | Path) -> Path:
    """Save a tiny random-weight FLUX ControlNet (``FluxControlNetModel``) for the tiny FLUX
    pipeline in ``folder``; its zero-initialised projections get random weights, as above."""
    import torch
    from diffusers import FluxControlNetModel

    folder = Path(folder)
    torch.manual_seed(6)
    controlnet = FluxControlNetModel(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                                     attention_head_dim=16, num_attention_heads=2, axes_dims_rope=(4, 6, 6),
                                     joint_attention_dim=TEXT_HIDDEN, pooled_projection_dim=TEXT_HIDDEN)
    with torch.no_grad():
        for projection in (*controlnet.controlnet_blocks, *controlnet.controlnet_single_blocks,
                           controlnet.controlnet_x_embedder):
            projection.weight.normal_(0.0, 0.3)
            projection.bias.normal_(0.0, 0.1)
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def direct_controlnet_call(model: str | Path, controlnet: str | Path, control_image: str | Path, *,
                           prompt: str, seed: int, steps: int, guidance: float, negative_prompt: str = "",
                           image: str | Path | None = None, mask: str | Path | None = None,
                           strength: float = 1.0):
    """What diffusers alone makes of a depth-guided request, as the backend writes it (8-bit
    H x W x 3): text-to-image at the control image's size (neither ``image`` nor ``mask``),
    inpainting of ``mask`` (white) with every other pixel ``image``'s (both), or image-to-image
    of ``image`` at ``strength`` (``image`` alone). The pipeline is the ControlNet variant of the
    SD, SDXL or FLUX pipeline in ``model`` with the ControlNet in ``controlnet``; ``prompt`` is
    used as given (a ``project`` request's prompt reaches the model with
    ``core.control_models.projection_prompt`` applied); FLUX takes no ``negative_prompt``."""
    import json

    import diffusers
    import numpy as np
    import torch
    from PIL import Image

    base = json.loads((Path(model) / "model_index.json").read_text())["_class_name"].removesuffix("Pipeline")
    flux = base.startswith("Flux")
    kind = "Text2Image" if image is None else "Inpaint" if mask is not None else "Img2Img"
    pipeline_class = getattr(diffusers, f"{base}ControlNet{'' if kind == 'Text2Image' else kind}Pipeline")
    pipe = pipeline_class.from_pretrained(
        str(model), dtype=torch.float32, use_safetensors=True,
        controlnet=getattr(diffusers, "FluxControlNetModel" if flux else "ControlNetModel").from_pretrained(
            str(controlnet), use_safetensors=True))
    pipe.set_progress_bar_config(disable=True)
    control = Image.open(control_image).convert("RGB")
    call = dict(prompt=prompt, num_inference_steps=steps, guidance_scale=guidance, output_type="np",
                generator=torch.Generator("cpu").manual_seed(seed))
    if not flux:
        call["negative_prompt"] = negative_prompt or None
    # SD's and SDXL's text-to-image ControlNet pipelines call the control image ``image``.
    call["image" if kind == "Text2Image" and not flux else "control_image"] = control
    if kind != "Img2Img" or flux:  # SD's image-to-image takes the size from the image
        call.update(width=control.width, height=control.height)
    if kind != "Text2Image":
        call.update(image=Image.open(image).convert("RGB"), strength=strength)
    if kind == "Inpaint":
        call["mask_image"] = Image.open(mask).convert("L")
    made = (pipe(**call).images[0] * 255).round().astype(np.uint8)  # how diffusers makes its PIL images
    if kind != "Inpaint":
        return made
    grey = np.asarray(Image.open(mask).convert("L"))
    if not np.isin(grey, (0, 255)).all():
        raise ValueError("the mask must be black and white here: grey levels blend, which this does not")
    return np.where((grey == 255)[..., None], made, np.asarray(Image.open(image).convert("RGB")))
