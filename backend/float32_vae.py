"""A half-precision VAE that SDXL pipelines decode in float32, kept in float32 for good.

SDXL's VAE overflows in float16, so its config says ``force_upcast`` and the SDXL pipelines cast
the whole VAE to float32 before each decode (and each encode, in the edit pipelines) and back to
float16 afterwards. Every cast makes new weight tensors. A compiled decoder running CUDA graphs
records the addresses of its weights: new ones at every call mean recording the graphs again at
every call, slower than not compiling at all. So when the decoder is compiled, the VAE becomes
float32 once, its config stops asking the pipelines to cast it, and its first layers cast what
comes in (the pipelines pass float16 latents and images) to float32. The decode computes what the
pipeline's own cast computes, except that the latents are unscaled before the cast instead of
after it (one float16 rounding, far inside the compiled path's PSNR bound). It costs the VAE's
float32 copy on the GPU (about 170 MB for SDXL's) and saves two casts per image."""

from __future__ import annotations


def wanted(pipe) -> bool:
    """Whether ``pipe``'s VAE is half precision and cast to float32 by the pipeline at each use
    (the SDXL family, whose VAE config says ``force_upcast``)."""
    import torch

    vae = getattr(pipe, "vae", None)
    return (hasattr(pipe, "upcast_vae") and vae is not None and vae.dtype == torch.float16
            and bool(getattr(vae.config, "force_upcast", False)))


def keep(pipe) -> str:
    """Make ``pipe``'s VAE float32 for good if ``wanted``; says what was done, for the record."""
    import torch

    if not wanted(pipe):
        return "no"
    vae = pipe.vae
    vae.to(torch.float32)
    vae.register_to_config(force_upcast=False)
    # The first layer each input meets: the encoder for images, post_quant_conv (or the decoder
    # where a VAE has none) for latents.
    for first in (vae.encoder, getattr(vae, "post_quant_conv", None) or vae.decoder):
        first.register_forward_pre_hook(_to_float32)
    return "yes (decodes without casting the VAE at each call)"


def _to_float32(module, args):
    return (args[0].float(), *args[1:])
