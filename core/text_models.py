"""Text models Atelier knows for palettes and scene ideas: licence, size, GPU memory.

Any instruct (chat) model with a chat template works; these are the ones with known needs.
The figures are approximate: ``download_gb`` is the size of the ``.safetensors`` weights (16-bit,
GB of 10^9 bytes), ``gpu_gib`` the GPU memory one short answer takes (weights plus working
memory, GiB of 2^30 bytes). Licence names are keys of ``core.model_catalog.LICENCES``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .families import DEFAULT_TEXT_MODEL


@dataclass(frozen=True)
class TextModel:
    """One known text model."""

    id: str
    licence: str
    download_gb: float
    gpu_gib: float
    source: str = "the Hugging Face hub"


TEXT_MODELS = (
    TextModel(DEFAULT_TEXT_MODEL, "Apache-2.0", 3.1, 4.0, "the Hugging Face hub (the default)"),
    TextModel("Qwen/Qwen2.5-0.5B-Instruct", "Apache-2.0", 1.0, 1.5,
              "the Hugging Face hub (the pick for small GPUs and CPUs)"),
    # Qwen2.5-3B is the one size of Qwen2.5 under the Qwen Research License rather than Apache-2.0.
    TextModel("Qwen/Qwen2.5-3B-Instruct", "Qwen Research License", 6.2, 7.5),
)
