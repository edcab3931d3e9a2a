"""Which tiny autoencoder (TAESD) decodes the latents of which texture model family.

A tiny autoencoder decodes a latent image in a fraction of the full VAE's time, a little
softer: what a live preview wants. SD 1.x, 2.x and SD-Turbo share one latent space, SDXL and
SDXL-Turbo another, FLUX a third (16 channels). ``ATELIER_TINY_AUTOENCODER`` (a folder or a
Hugging Face id) overrides the table for every family.
"""

from __future__ import annotations

import os

TINY_AUTOENCODER_ENV = "ATELIER_TINY_AUTOENCODER"

# Keyed by ``core.families.FAMILIES`` names; a test checks that every family has one.
TINY_AUTOENCODERS = {
    "sd": "madebyollin/taesd",
    "sd-turbo": "madebyollin/taesd",
    "sdxl": "madebyollin/taesdxl",
    "sdxl-turbo": "madebyollin/taesdxl",
    "flux-dev": "madebyollin/taef1",
    "flux-schnell": "madebyollin/taef1",
}


def tiny_autoencoder_for(family: str) -> str:
    """The tiny autoencoder for models of ``family``: the environment's override, else the table's."""
    return os.environ.get(TINY_AUTOENCODER_ENV, "").strip() or TINY_AUTOENCODERS[family]
