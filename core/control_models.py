"""Depth ControlNets Atelier knows, one or more per texture family: licence, size, GPU memory.

A depth ControlNet lets a texture follow the shape of a mesh (a depth render guides the
picture). diffusers loads each of these with ``ControlNetModel`` (SD 1.x, SD 2.x, SDXL) or
``FluxControlNetModel`` (FLUX.1-dev). The figures are approximate: ``download_gb`` is the size
of the full-precision ``.safetensors`` weights Atelier downloads (GB of 10^9 bytes),
``gpu_gib`` the GPU memory the ControlNet adds to its texture model in fp16 (GiB of 2^30 bytes).
Licence names are keys of ``core.model_catalog.LICENCES``, which says whether each allows
commercial use.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    source: str = "the Hugging Face hub"


CONTROL_MODELS = (
    ControlModel("lllyasviel/control_v11f1p_sd15_depth", ("sd",), "Stable Diffusion 1.x",
                 "CreativeML OpenRAIL-M", 1.4, 0.8),
    ControlModel("thibaud/controlnet-sd21-depth-diffusers", ("sd", "sd-turbo"), "Stable Diffusion 2.x",
                 "other (unspecified; see the model card)", 1.5, 0.8),
    ControlModel("diffusers/controlnet-depth-sdxl-1.0-small", ("sdxl", "sdxl-turbo"), "Stable Diffusion XL",
                 "CreativeML OpenRAIL++-M", 0.6, 0.4),
    ControlModel("diffusers/controlnet-depth-sdxl-1.0", ("sdxl", "sdxl-turbo"), "Stable Diffusion XL",
                 "CreativeML OpenRAIL++-M", 5.0, 2.6),
    ControlModel("jasperai/Flux.1-dev-Controlnet-Depth", ("flux-dev",), "FLUX.1 [dev]",
                 "FLUX.1 [dev] Non-Commercial License", 3.6, 3.5),
)


def for_family(family: str) -> tuple[ControlModel, ...]:
    """The depth ControlNets that steer texture family ``family``, smallest download first."""
    return tuple(sorted((model for model in CONTROL_MODELS if family in model.families),
                        key=lambda model: model.download_gb))
