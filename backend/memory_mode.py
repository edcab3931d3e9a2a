"""Where a pipeline's parts live while it runs, and how much memory its decoder takes at once.

- As loaded (the default): every part on the device.
- ``ATELIER_CPU_OFFLOAD=1``: model CPU offload (CUDA only): each part (text encoders, denoiser,
  VAE) waits in CPU memory and moves to the GPU only while it computes. Slower (the weights
  cross the bus at every job), far less GPU memory. Needs accelerate.
- ``ATELIER_LOW_VRAM=1``: that offload (on CUDA) plus a tiled VAE: the VAE decodes (and, for an
  edit, encodes) the image in overlapping tiles blended together, so a 2048 px texture needs the
  memory of a tile, not of the whole image. Tiles differ a little from one pass (each normalises
  its own activations; the overlaps are blended) and work on every device; offload only helps on
  a GPU: on the CPU the weights are in CPU memory already, so only the tiling applies there.
  The Marigold maps pipelines are offloaded in this mode but never tiled (``place(tile=False)``).

Sliced decoding (one image of a batch at a time) is not used: a job decodes one image. A
seamless texture decodes in one pass (``seamless.seamless_tiling`` turns tiling off in its block):
each tile would wrap around itself instead of around the image.

Both are on/off switches (``env_switch``: 1/on/true/yes or 0/off/false/no). They are checked
before each job's model loads (``settings``, through ``pipeline_setup.check``) and read again when
a model loads. A backend's environment is fixed when it starts, so every model one backend loads
is placed alike and the model cache needs no key for it.
"""

from __future__ import annotations

import importlib.util

from core.errors import TaskError

from . import setup_notes
from .env_switch import switch

# Set to 1 (on) to keep model parts in CPU memory until they compute (needs accelerate; CUDA only).
CPU_OFFLOAD_ENV = "ATELIER_CPU_OFFLOAD"
# Set to 1 (on) for CPU offload (CUDA) plus a tiled VAE (every device): large textures on small GPUs.
LOW_VRAM_ENV = "ATELIER_LOW_VRAM"


def place(pipe, device: str, tile: bool = True) -> None:
    """Move ``pipe`` to ``device``, or offload it there part by part, as the environment asks
    (``ATELIER_CPU_OFFLOAD``, ``ATELIER_LOW_VRAM``); what was applied is noted on ``pipe``.

    ``tile=False`` is for pipelines whose output is measured data rather than a picture (the
    Marigold maps): ``ATELIER_LOW_VRAM`` offloads them but keeps their VAE in one pass, since the
    blended tiles would change the maps' values."""
    low_vram_on, offload_on = settings(device)  # both read first: a bad value fails before any work
    if low_vram_on and tile:
        low_vram(pipe, device)
        return
    if low_vram_on or offload_on:
        _place_offloaded(pipe, device, LOW_VRAM_ENV if low_vram_on else CPU_OFFLOAD_ENV)
    else:
        pipe.to(device)
        setup_notes.note(pipe, "cpu_offload", False)
    setup_notes.note(pipe, "vae_tiling", False)
    setup_notes.note(pipe, "low_vram", low_vram_on)


def low_vram(pipe, device: str) -> None:
    """The low-memory mode on ``pipe`` (still on the CPU, as loaded): model CPU offload to
    ``device`` when it is a CUDA GPU (elsewhere ``pipe`` moves to ``device``), and a tiled VAE."""
    _place_offloaded(pipe, device, LOW_VRAM_ENV)
    setup_notes.note(pipe, "vae_tiling", tile_vae(pipe))
    setup_notes.note(pipe, "low_vram", True)


def _place_offloaded(pipe, device: str, asked_by: str) -> None:
    """Offload ``pipe`` to ``device``, or, off CUDA, move it there and note why it is not offloaded
    (on the CPU the weights are in CPU memory already: there is nothing to gain)."""
    offloaded = offload(pipe, device, asked_by)
    if not offloaded:
        pipe.to(device)
        setup_notes.note(pipe, "cpu_offload_skipped",
                            f"{asked_by}=1 offloads to CUDA GPUs only, not to {device}")
    setup_notes.note(pipe, "cpu_offload", offloaded)


def offload(pipe, device: str, asked_by: str) -> bool:
    """Model CPU offload of ``pipe`` to ``device`` (``asked_by``: the setting that asks for it,
    named if it cannot be done); True when done. Only a CUDA GPU gains from it (elsewhere the
    weights already sit where they compute): False, and nothing changes."""
    if not device.startswith("cuda"):
        return False
    _check_accelerate(asked_by)
    # Only the component that is computing sits on the GPU; slower, but large models fit.
    pipe.enable_model_cpu_offload(device=device)
    return True


def offloaded(*models) -> bool:
    """Whether accelerate moves any of ``models`` between the CPU and the GPU around its calls
    (``offload`` did it to their pipeline)."""
    return any(getattr(model, "_hf_hook", None) is not None for model in models if model is not None)


def tile_vae(pipe) -> bool:
    """Decode (and encode) with ``pipe``'s VAE in overlapping tiles, when it can; True if so.
    Images no larger than one tile (the VAE's ``tile_sample_min_size``) still go in one pass."""
    vae = getattr(pipe, "vae", None)
    if vae is None or not hasattr(vae, "use_tiling"):
        return False
    vae.enable_tiling()
    return True


def settings(device: str) -> tuple[bool, bool]:
    """(``ATELIER_LOW_VRAM``, ``ATELIER_CPU_OFFLOAD``) as on/off, or a ``bad_request`` for a value
    that is neither, or for offload to a CUDA GPU without accelerate installed (before any model
    loads)."""
    low_vram_on = switch(LOW_VRAM_ENV)
    offload_on = switch(CPU_OFFLOAD_ENV)
    if device.startswith("cuda") and (low_vram_on or offload_on):
        _check_accelerate(LOW_VRAM_ENV if low_vram_on else CPU_OFFLOAD_ENV)
    return low_vram_on, offload_on


def _check_accelerate(asked_by: str) -> None:
    if importlib.util.find_spec("accelerate") is None:
        raise TaskError("bad_request", f"CPU offload ({asked_by}=1) needs the accelerate library, "
                        "which is not installed in the backend's Python",
                        hint=f"install it there with `pip install accelerate`, or unset {asked_by}, "
                             "and restart the backend")
