"""Where a pipeline's parts live while it runs: all on the device, or in CPU memory until each
computes (``ATELIER_CPU_OFFLOAD=1``, CUDA only: slower, far less GPU memory)."""

from __future__ import annotations

import os

# Set to 1 to keep model parts in CPU memory until they compute (needs accelerate; CUDA only).
CPU_OFFLOAD_ENV = "ATELIER_CPU_OFFLOAD"


def place(pipe, device: str) -> None:
    """Move ``pipe`` to ``device``, or offload it there part by part when asked."""
    if device.startswith("cuda") and os.environ.get(CPU_OFFLOAD_ENV) == "1":
        # Only the component that is computing sits on the GPU; slower, but large models fit.
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
