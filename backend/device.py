"""Choosing the device and number format a job runs in.

``auto`` prefers CUDA, then Apple's MPS, then the CPU; ``ATELIER_DEVICE`` overrides ``auto``.
GPUs compute in half precision (fp16; ``ATELIER_DTYPE=bfloat16`` for bf16), the CPU in fp32
because half precision on the CPU is slow and some kernels are missing.
"""

from __future__ import annotations

import os
import re

from core.errors import TaskError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
_DTYPES = {"float16": "float16", "fp16": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16",
           "float32": "float32", "fp32": "float32"}


def resolve_device(requested: str) -> str:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' -> a device that exists here."""
    import torch

    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        requested = os.environ.get("ATELIER_DEVICE", "auto").strip().lower() or "auto"
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if _mps_available(torch):
            return "mps"
        return "cpu"
    if requested == "cpu":
        return "cpu"
    if requested == "mps":
        if not _mps_available(torch):
            raise TaskError("bad_request", "device 'mps' is not available on this machine",
                            hint="use device 'auto' or 'cpu'")
        return "mps"
    match = re.fullmatch(r"cuda(?::(\d+))?", requested)
    if match is None:
        raise TaskError("bad_request", f"unknown device {requested!r}",
                        hint=f"use one of {', '.join(DEVICE_CHOICES)}")
    if not torch.cuda.is_available():
        raise TaskError("bad_request", f"device {requested!r} is not available: torch sees no CUDA GPU",
                        hint="use device 'auto' or 'cpu', or install a CUDA build of torch")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise TaskError("bad_request",
                        f"device {requested!r} does not exist: {torch.cuda.device_count()} GPU(s) found",
                        hint=f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
    return requested


def default_dtype(device: str):
    """fp32 on the CPU, fp16 (or ``ATELIER_DTYPE``) on a GPU."""
    import torch

    if device == "cpu":
        return torch.float32
    name = os.environ.get("ATELIER_DTYPE", "float16").strip().lower()
    if name not in _DTYPES:
        raise TaskError("bad_request", f"ATELIER_DTYPE={name!r} is not a known number format",
                        hint="use float16, bfloat16 or float32")
    return getattr(torch, _DTYPES[name])


def free_device_memory() -> None:
    """Give cached allocator blocks back after a failure (out of memory, unload)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if _mps_available(torch):
        torch.mps.empty_cache()


def _mps_available(torch) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
