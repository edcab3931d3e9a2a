"""The precision of a pipeline's VAE: each call leaves it as it found it, and under CUDA graphs a
half-precision SDXL VAE stays float32.

SDXL's VAE overflows in float16, so its config says ``force_upcast`` and the SDXL pipelines cast
the whole VAE to float32 around each decode (and each encode, in the edit pipelines). Not all of
them cast it back: the ControlNet inpainting pipelines (projection) leave it float32, and so does
a failure between the casts (running out of memory in a float32 decode). The next call would feed
float16 latents to float32 weights and fail. So each call puts the VAE back in the precision it
found it in (``kept``), and the cached pipeline serves the next job exactly as loaded.

Every cast makes new weight tensors, and a compiled decoder running CUDA graphs records the
addresses of its weights: new ones at every call would record the graphs again at every call,
slower than not compiling at all. So under CUDA graphs the VAE becomes float32 once, its config
stops asking the pipelines to cast it, and its first layers cast what comes in (``keep_float32``).
The decode computes what the pipeline's own cast computes, except that the latents are unscaled
before the cast instead of after it (float16 rounding of the latents, far inside the compiled
path's PSNR bound). It costs the VAE's float32 copy on the GPU (about 170 MB for SDXL's) and saves
two casts per image."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def kept(pipe):
    """Put ``pipe``'s VAE back in the precision it had before the block, if a call inside changed
    it (also when the block fails)."""
    vae = getattr(pipe, "vae", None)
    before = getattr(vae, "dtype", None)
    try:
        yield
    finally:
        if before is not None and vae.dtype != before:
            vae.to(before)


def _upcast_by_the_pipeline(pipe) -> bool:
    """Whether ``pipe``'s VAE is half precision and cast to float32 by the pipeline at each use
    (the SDXL family, whose VAE config says ``force_upcast``)."""
    import torch

    vae = getattr(pipe, "vae", None)
    return (hasattr(pipe, "upcast_vae") and vae is not None and vae.dtype == torch.float16
            and bool(getattr(vae.config, "force_upcast", False)))


def keep_float32(pipe) -> str:
    """Make ``pipe``'s VAE float32 for good if the pipeline would cast it at each use; says what
    was done, for the record."""
    import torch

    if not _upcast_by_the_pipeline(pipe):
        return "no"
    vae = pipe.vae
    vae.to(torch.float32)
    vae.register_to_config(force_upcast=False)
    # The pipelines pass float16 latents and images: the first layer each meets (the encoder for
    # images, post_quant_conv, or the decoder where a VAE has none, for latents) casts them.
    for first in (vae.encoder, getattr(vae, "post_quant_conv", None) or vae.decoder):
        first.register_forward_pre_hook(_to_weight_precision)
    return "yes (decodes without casting the VAE at each call)"


def _to_weight_precision(module, args):
    return (args[0].to(next(module.parameters()).dtype), *args[1:])
