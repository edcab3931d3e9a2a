"""Depth ControlNets Atelier knows, one or more per texture family: licence, size, GPU memory.

A depth ControlNet lets a texture follow the shape of a mesh (a depth render guides the
picture). diffusers loads each of these with ``ControlNetModel`` (SD 1.x, SD 2.x, SDXL) or
``FluxControlNetModel`` (FLUX.1-dev). The figures are approximate: ``download_gb`` is the size
of the full-precision ``.safetensors`` weights Atelier downloads (GB of 10^9 bytes),
``gpu_gib`` the GPU memory the ControlNet adds to its texture model in fp16 (GiB of 2^30 bytes).
Licence names are keys of ``core.model_catalog.LICENCES``, which says whether each allows
commercial use. ``text_width`` is the width of the prompt embedding the ControlNet reads (its
``cross_attention_dim``): SD 1.x and SD 2.x are one family here, but a ControlNet for one does
not run with the other, so the width picks between them.

Projection prompts begin with ``PROJECTION_LIGHTING``: a view is baked into the texture and
seen from every other angle, where light and shadow painted into it look wrong. It goes first
because CLIP text encoders read 77 tokens and drop the rest: a long prompt must not push it out.
"""

from __future__ import annotations

from dataclasses import dataclass

# Put before every projection prompt (``projection_prompt``).
PROJECTION_LIGHTING = "evenly lit, shadow-free, flat diffuse colour, no reflections, no highlights"


@dataclass(frozen=True)
class ControlModel:
    """One depth ControlNet: its hub id, the texture families it steers, the base models it was
    trained for (in words), its licence and its needs."""

    id: str
    families: tuple[str, ...]  # keys of families.FAMILIES
    base: str
    licence: str
    download_gb: float
    gpu_gib: float
    text_width: int  # the prompt embedding's width it reads (the UNet's cross_attention_dim)
    source: str = "the Hugging Face hub"


CONTROL_MODELS = (
    ControlModel("lllyasviel/control_v11f1p_sd15_depth", ("sd",), "Stable Diffusion 1.x",
                 "CreativeML OpenRAIL-M", 1.4, 0.8, 768),
    ControlModel("thibaud/controlnet-sd21-depth-diffusers", ("sd", "sd-turbo"), "Stable Diffusion 2.x",
                 "other (unspecified; see the model card)", 1.5, 0.8, 1024),
    ControlModel("diffusers/controlnet-depth-sdxl-1.0-small", ("sdxl", "sdxl-turbo"), "Stable Diffusion XL",
                 "CreativeML OpenRAIL++-M", 0.6, 0.4, 2048),
    ControlModel("diffusers/controlnet-depth-sdxl-1.0", ("sdxl", "sdxl-turbo"), "Stable Diffusion XL",
                 "CreativeML OpenRAIL++-M", 5.0, 2.6, 2048),
    ControlModel("jasperai/Flux.1-dev-Controlnet-Depth", ("flux-dev",), "FLUX.1 [dev]",
                 "FLUX.1 [dev] Non-Commercial License", 3.6, 3.5, 4096),
)


def for_family(family: str) -> tuple[ControlModel, ...]:
    """The depth ControlNets that steer texture family ``family``, smallest download first."""
    return tuple(sorted((model for model in CONTROL_MODELS if family in model.families),
                        key=lambda model: model.download_gb))


def matching(family: str, text_width: int | None) -> tuple[ControlModel, ...]:
    """``for_family(family)`` narrowed to the ControlNets that read prompt embeddings
    ``text_width`` wide (None: width unknown, all of the family's)."""
    return tuple(model for model in for_family(family)
                 if text_width is None or model.text_width == text_width)


def projection_prompt(prompt: str) -> str:
    """``PROJECTION_LIGHTING``, then ``prompt`` (once: a prompt that already begins with it is
    kept as it is). First, so the 77 tokens a CLIP encoder reads always hold it."""
    prompt = prompt.strip().strip(",").strip()
    if prompt.startswith(PROJECTION_LIGHTING):
        return prompt
    return f"{PROJECTION_LIGHTING}, {prompt}" if prompt else PROJECTION_LIGHTING


def download_hint(models: tuple[ControlModel, ...]) -> str:
    """How to get one of ``models``: the download command of each, with its licence and size."""
    return "; or ".join(f"`python -m backend download {model.id}` ({model.licence}, about "
                        f"{model.download_gb:g} GB)" for model in models)
