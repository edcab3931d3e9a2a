"""Texture model families, their recommended settings, and the default models.

Defined once here and read by both processes: the backend's texture task picks a family's
settings for a request that leaves them out and refuses a size the family cannot make (naming
the family and the fix); Blender checks ``SIZE_MULTIPLE``, the multiple that every family
accepts, before it sends a job, and its preferences default to the models below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The models used when neither the request, the preferences nor the environment name one.
# SDXL-Turbo: 512 px in one step; the known texture models and their needs are in texture_models.
DEFAULT_TEXTURE_MODEL = "stabilityai/sdxl-turbo"
DEFAULT_TEXT_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"


@dataclass(frozen=True)
class Family:
    """A model family and its recommended settings."""

    name: str
    steps: int
    guidance: float
    size_multiple: int = 8  # width and height must be multiples of this (VAE x patch size)
    negative_prompt: bool = True
    seamless: bool = True
    max_sequence_length: int | None = None  # T5 prompt tokens (FLUX); None = the pipeline's default


# Recommended settings from the model cards (Turbo: 1 step, no guidance; SDXL guidance 5).
FAMILIES = {
    family.name: family
    for family in (
        Family("sd", 30, 7.5),
        Family("sd-turbo", 1, 0.0),
        Family("sdxl", 30, 5.0),
        Family("sdxl-turbo", 1, 0.0),
        Family("flux-dev", 28, 3.5, 16, negative_prompt=False, seamless=False),
        Family("flux-schnell", 4, 0.0, 16, negative_prompt=False, seamless=False,
               max_sequence_length=256),
    )
}

# A width or height that is a multiple of this suits every family (what Blender checks).
SIZE_MULTIPLE = math.lcm(*(family.size_multiple for family in FAMILIES.values()))
