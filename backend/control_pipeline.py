"""Depth ControlNet pipelines for the ``project`` and ``restyle`` tasks.

The control model is the request's ``control_model``, else ``ATELIER_CONTROL_MODEL``, else the
first entry of ``core.control_models`` for the texture model's family (and the width of the
prompt embeddings its UNet reads, which tells SD 1.x from SD 2.x) that is in the local
Hugging Face cache. A family with none there fails with ``model_missing`` naming the hub ids to
download. The ControlNet is loaded once (safetensors only) and kept warm like the texture
model; its pipelines come from the cached texture pipeline through ``from_pipe``, sharing the
weights.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from dataclasses import dataclass

import numpy as np

from core import control_models
from core.errors import TaskError, first_line
from core.families import Family

from . import image_edit, memory_mode, prompt_cache, vae_precision
from .models import HUB_ID, LocatedModel, locate
from .task_context import JobContext
from .tasks import texture

CONTROL_MODEL_ENV = "ATELIER_CONTROL_MODEL"
CONTROL_KIND = "control"
# The control model's part of the record of a job that ran without one (restyle without depth).
NO_CONTROL_RECORD = {"control_model": "", "control_model_source": "", "control_model_revision": None}


def set_it(what: str = "a depth ControlNet") -> str:
    """The hint's words for naming a control model oneself."""
    return (f"set Control Model in Atelier's preferences (or ATELIER_CONTROL_MODEL, or the request's "
            f"control_model) to {what}: a folder saved with save_pretrained, or a hub id")


@dataclass
class ControlPipelines:
    """What a control job runs with: the texture model and its pipeline and family, the
    ControlNet's name and where it came from, and the ControlNet pipeline made from both."""

    model: str
    pipe: object
    family: Family
    control_model: str
    control_source: LocatedModel
    edit: object

    def record(self) -> dict:
        """The control model's part of the provenance record."""
        return {"control_model": self.control_model, "control_model_source": self.control_source.path_or_id,
                "control_model_revision": self.control_source.revision}


def control_model_setting(requested: str = "") -> str:
    """The control model a job was told to use: the request's, else ``ATELIER_CONTROL_MODEL``;
    ``""`` = pick from ``core.control_models``."""
    return requested.strip() or os.environ.get(CONTROL_MODEL_ENV, "").strip()


def text_width(config) -> int | None:
    """The width of the prompt embeddings a UNet, transformer or ControlNet reads (its config's
    ``cross_attention_dim``, or FLUX's ``joint_attention_dim``)."""
    width = getattr(config, "cross_attention_dim", None) or getattr(config, "joint_attention_dim", None)
    return width if isinstance(width, int) else None


def denoiser(pipe):
    """The UNet of an SD/SDXL pipeline, the transformer of a FLUX one."""
    return getattr(pipe, "unet", None) or pipe.transformer


def load(job: JobContext, request, auto_class_name: str) -> ControlPipelines:
    """The texture pipeline, the control model for it and the ControlNet variant of
    ``auto_class_name`` ('AutoPipelineForText2Image', '...Image2Image', '...Inpainting') made
    from both."""
    import torch

    model, pipe, family = image_edit.load_texture_pipeline(job, request)
    name, located = resolve(job, request.control_model, pipe, family, model)
    flux = type(pipe).__name__.startswith("Flux")
    try:
        controlnet = job.load(CONTROL_KIND, name, functools.partial(
            load_controlnet, "FluxControlNetModel" if flux else "ControlNetModel"))
    except torch.OutOfMemoryError as exc:
        raise texture.out_of_memory(f"loading {name} on {job.device}", exc) from None
    check_fits(name, controlnet, model, pipe, family)
    edit = image_edit.pipeline_from(pipe, auto_class_name, controlnet=controlnet)
    if memory_mode.offloaded(*pipe.components.values()):
        # The texture pipeline is offloaded (ATELIER_CPU_OFFLOAD, ATELIER_LOW_VRAM): offload the
        # ControlNet pipeline too, so the ControlNet (2.5 GB for SDXL) waits in CPU memory like
        # the rest and moves to the GPU only while it computes.
        edit.enable_model_cpu_offload(device=job.device)
    return ControlPipelines(model, pipe, family, name, located, edit)


def resolve(job: JobContext, requested: str, pipe, family: Family, model: str) -> tuple[str, LocatedModel]:
    """The control model's name and where it is, or ``TaskError`` saying what to download or set."""
    allow_pickle = bool(getattr(job.request, "allow_pickle", False))
    width = text_width(denoiser(pipe).config)
    known = control_models.matching(family.name, width)
    name = control_model_setting(requested)
    if name:
        try:
            return name, locate(name, job.allow_network, allow_pickle, kind=CONTROL_KIND)
        except TaskError as exc:
            if exc.code != "model_missing" or HUB_ID.match(name):
                raise
            suggestion = f"; Atelier's for {family.name} models: {control_models.download_hint(known)}" \
                if known else ""
            raise TaskError(exc.code, exc.message,
                            hint=f"check the path, or {set_it()}{suggestion}") from None
    if not known:
        raise no_known_control_model(model, family, width)
    for entry in known:
        try:
            return entry.id, locate(entry.id, job.allow_network, allow_pickle, kind=CONTROL_KIND)
        except TaskError as exc:
            if exc.code != "model_missing":
                raise
    ids = ", ".join(entry.id for entry in known)
    raise TaskError("model_missing", f"no depth ControlNet for {family.name} models is in the local Hugging "
                    f"Face cache (Atelier uses {ids} for {model})",
                    hint=f"download one with {control_models.download_hint(known)} (or from the model "
                         f"manager in Atelier's preferences), or {set_it()}")


def no_known_control_model(model: str, family: Family, width: int | None) -> TaskError:
    """The report for a texture model that no ControlNet in ``core.control_models`` steers."""
    others = control_models.for_family(family.name)
    bases = ", ".join(dict.fromkeys(entry.base for entry in control_models.CONTROL_MODELS))
    why = (f"those for {family.name} models ({', '.join(entry.id for entry in others)}) read prompt "
           f"embeddings of another width than its {width}" if others
           else f"none is known for {family.name} models")
    return TaskError("model_missing", f"no depth ControlNet fits texture model {model}: {why}",
                     hint=f"use a texture model Atelier has one for ({bases}), or "
                          f"{set_it('a depth ControlNet made for this model')}")


def load_controlnet(class_name: str, located: LocatedModel, device: str, dtype):
    """Load a ControlNet (``ControlNetModel`` or ``FluxControlNetModel``) with safetensors only."""
    import diffusers

    try:
        controlnet = getattr(diffusers, class_name).from_pretrained(
            located.path_or_id, dtype=dtype, use_safetensors=None if located.allow_pickle else True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise TaskError("model_invalid",
                        f"cannot load {located.path_or_id} as a {class_name}: {first_line(exc)}",
                        hint=f"use a diffusers {class_name} folder (config.json) with .safetensors weights, "
                             f"or {set_it()}") from None
    return controlnet.to(device)


def check_fits(name: str, controlnet, model: str, pipe, family: Family) -> None:
    """Refuse a ControlNet trained for another kind of model (it would fail mid-denoising)."""
    wanted, has = denoiser(pipe).config, controlnet.config
    shape = ("cross_attention_dim", "joint_attention_dim", "addition_embed_type", "in_channels")
    differs = [key for key in shape if getattr(wanted, key, None) != getattr(has, key, None)]
    if differs:
        known = control_models.matching(family.name, text_width(wanted))
        suggestion = f": e.g. {control_models.download_hint(known)}" if known else ""
        found = ", ".join(f"{key} {getattr(has, key, None)} where the model has {getattr(wanted, key, None)}"
                          for key in differs)
        raise TaskError("model_invalid", f"control model {name} does not fit texture model {model} ({found})",
                        hint=f"use a depth ControlNet made for {family.name} models{suggestion}")


def text_to_image_pixels(job: JobContext, edit, family: Family, control: np.ndarray, *, prompt: str,
                         negative_prompt: str, steps: int, guidance: float, seed: int) -> np.ndarray:
    """One ControlNet text-to-image call at the control image's size (``control``: float
    H x W x 3, 0..1); returns float32 H x W x 3 in 0..1."""
    import torch

    height, width = control.shape[:2]
    options = {}
    if family.negative_prompt:
        options["negative_prompt"] = negative_prompt or None  # None: SDXL zeroes a missing one
    if family.max_sequence_length:
        options["max_sequence_length"] = family.max_sequence_length
    # SD's and SDXL's ControlNet text-to-image pipelines call the control image ``image``.
    takes = inspect.signature(edit.__call__).parameters
    control_name = "control_image" if "control_image" in takes else "image"
    options[control_name] = control[None]  # diffusers reads a numpy array as a batch
    prompt_cache.install(edit)  # again at every call: CPU offload's hooks drop it after each one
    try:
        with vae_precision.kept(edit):  # a float32 decode that runs out of memory leaves it float32
            return edit(prompt=prompt, width=width, height=height, num_inference_steps=steps,
                        guidance_scale=guidance, generator=torch.Generator(device="cpu").manual_seed(seed),
                        output_type="np", callback_on_step_end=texture.progress_callback(job, steps),
                        **options).images[0]
    except torch.OutOfMemoryError as exc:
        raise texture.out_of_memory(f"painting a {width}x{height} view on {job.device}", exc) from None
