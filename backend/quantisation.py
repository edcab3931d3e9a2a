"""How the denoiser's weights are stored (``ATELIER_QUANTIZE``): as loaded (``off``, the
default), as 8-bit integers (``int8``: weights only) or as 8-bit floats (``fp8``: fp8 weights
and dynamically quantised fp8 activations), with torchao.

Only the denoiser (the UNet, or FLUX's transformer) is quantised: it holds most of the weights
and runs at every step; the text encoders and the VAE stay as loaded. Within it, torchao
quantises the ``Linear`` layers (attention, feed-forward, projections); convolutions keep theirs.

- ``int8``: weight-only, one scale per output channel (torchao's ``Int8WeightOnlyConfig``).
  Those weights take half the memory of fp16 ones (a quarter of fp32); each matmul runs in the
  pipeline's precision on the dequantised weight: memory, not speed. CPU and CUDA.
- ``fp8``: e4m3 weights, and activations quantised as each layer runs
  (``Float8DynamicActivationFloat8WeightConfig``), so the matmuls run on the GPU's fp8 tensor
  cores (``torch._scaled_mm``): the one fp8 form that can be faster than fp16 as well as
  smaller. torchao's fp8 weight-only form dequantises to fp16 before every matmul: memory only,
  which int8 already gives everywhere. Needs CUDA compute capability 8.9 or newer (Ada,
  Hopper). Scales are per row in a bfloat16 pipeline and per tensor otherwise: torchao takes
  per-row scales for bfloat16 weights only (``ATELIER_DTYPE=bfloat16`` gets the finer ones).

Both forms quantise the weights; ``fp8`` quantises the activations too (dynamically, per call),
so it changes the output more than ``int8`` does: the GPU benchmark (bench/gpu_fast.py) reports
each mode's PSNR against fp16.

Quantising comes after placement and before the fast path (``pipeline_setup.prepare``), so
compiled code sees the quantised weights (the fast path leaves them unfused). Compiling a
quantised denoiser is allowed, as ``ATELIER_FAST=auto`` does on CUDA: the GPU benchmark measures
it for int8; fp8 under compile and CUDA graphs is not measured yet. torchao is told not to
change the compiler's global settings (the fast path owns those). Pipelines made with
``from_pipe`` (refine, inpaint, upscale, projection) share the quantised denoiser. The setting is
read when a model loads; a backend's environment is fixed when it starts, so every model one
backend loads is stored alike and the model cache needs no key for it. torchao is imported only
when a mode asks for it.
"""

from __future__ import annotations

import logging
import os

from core.errors import TaskError

from . import setup_notes

QUANTIZE_ENV = "ATELIER_QUANTIZE"
MODES = ("off", "int8", "fp8")
# Compute capability of the first NVIDIA GPUs with fp8 tensor cores (Ada Lovelace; Hopper is 9.0).
FP8_CAPABILITY = (8, 9)
_RESTART = "where the backend starts, and restart it"


def quantise(pipe, device: str) -> None:
    """Quantise ``pipe``'s denoiser as ``ATELIER_QUANTIZE`` asks (nothing for ``off``); the mode
    is noted on ``pipe`` (``quantize``) for the provenance record."""
    mode = check(device)
    if mode == "off":
        setup_notes.note(pipe, "quantize", "off")
    else:
        quantise_denoiser(pipe, mode, device)


def check(device: str) -> str:
    """The mode ``ATELIER_QUANTIZE`` asks for, once it is known to run on ``device`` (torchao
    imported for a mode that needs it); else a ``bad_request`` saying what to set."""
    mode = quantize_setting()
    if mode != "off":
        check_device(mode, device)
        _torchao_quantize()
    return mode


def quantize_setting() -> str:
    """``ATELIER_QUANTIZE`` (``off`` when unset), or a ``bad_request`` naming the choices."""
    value = os.environ.get(QUANTIZE_ENV, "").strip().lower() or "off"
    if value not in MODES:
        raise TaskError("bad_request", f"{QUANTIZE_ENV}={value[:40]!r} is not a quantisation Atelier knows",
                        hint=f"set {QUANTIZE_ENV} to one of {', '.join(MODES)} {_RESTART}")
    return value


def quantise_denoiser(pipe, mode: str, device: str) -> None:
    """Quantise ``pipe``'s denoiser in place to ``mode`` ('int8' or 'fp8') for running on
    ``device``, and note it on ``pipe``; a ``bad_request`` when ``device`` cannot run that mode
    or torchao is missing. ``pipe`` may be on ``device`` or offloaded to it."""
    check_device(mode, device)
    model = denoiser(pipe)
    quantize_ = _torchao_quantize()
    config, scaling = _config(mode, model.dtype)
    quantize_(model, config)
    setup_notes.note(pipe, "quantize", mode)
    if scaling:
        setup_notes.note(pipe, "quantize_scaling", scaling)


def denoiser(pipe):
    """The model that runs at every step: the UNet, or the transformer (FLUX)."""
    model = getattr(pipe, "unet", None)
    if model is None:
        model = getattr(pipe, "transformer", None)
    if model is None:
        raise TaskError("model_invalid", f"{type(pipe).__name__} has neither a UNet nor a transformer to "
                        "quantise", hint=f"set {QUANTIZE_ENV}=off {_RESTART}")
    return model


def check_device(mode: str, device: str) -> None:
    """Refuse a mode ``device`` cannot run: int8 runs on the CPU and CUDA, fp8 on CUDA GPUs of
    compute capability 8.9 or newer."""
    if mode == "int8":
        if device != "cpu" and not device.startswith("cuda"):
            raise TaskError("bad_request",
                            f"{QUANTIZE_ENV}=int8 runs on the CPU and CUDA GPUs, not on {device}",
                            hint=f"set {QUANTIZE_ENV}=off {_RESTART}")
        return
    capability = _cuda_capability(device)
    if capability is None or capability < FP8_CAPABILITY:
        where = (f"this GPU ({device}) has compute capability {capability[0]}.{capability[1]}"
                 if capability else f"this backend runs on {device}")
        raise TaskError("bad_request", f"{QUANTIZE_ENV}=fp8 needs an NVIDIA GPU with fp8 tensor cores "
                        f"(compute capability 8.9 or newer: Ada, Hopper); {where}",
                        hint=f"set {QUANTIZE_ENV}=int8 (runs on the CPU and every CUDA GPU) or "
                             f"off {_RESTART}")


def _cuda_capability(device: str) -> tuple[int, int] | None:
    if not device.startswith("cuda"):
        return None
    import torch

    return tuple(torch.cuda.get_device_capability(device))


def _config(mode: str, dtype):
    """torchao's config for ``mode`` with a model of ``dtype``, and the fp8 scaling ('' for int8)."""
    import torch
    from torchao.quantization import (
        Float8DynamicActivationFloat8WeightConfig,
        Int8WeightOnlyConfig,
        PerRow,
        PerTensor,
    )

    if mode == "int8":
        return Int8WeightOnlyConfig(set_inductor_config=False), ""
    per_row = dtype == torch.bfloat16
    granularity = PerRow() if per_row else PerTensor()
    return (Float8DynamicActivationFloat8WeightConfig(granularity=granularity, set_inductor_config=False),
            "per-row" if per_row else "per-tensor")


def _torchao_quantize():
    """torchao's ``quantize_``, or a ``bad_request`` saying how to install it."""
    # torchao logs a warning for each optional kernel library this build of torch cannot load
    # (e.g. "Failed to load ..._C_mxfp8..."): noise in the backend's log for modes Atelier never uses.
    logging.getLogger("torchao").setLevel(logging.ERROR)
    try:
        from torchao.quantization import quantize_
    except ImportError as exc:
        raise TaskError("bad_request", f"{QUANTIZE_ENV} needs the torchao library, which the backend's "
                        f"Python cannot import ({exc})",
                        hint=f"install it there with `pip install torchao` (0.18 is tested), or set "
                             f"{QUANTIZE_ENV}=off {_RESTART}") from None
    return quantize_
