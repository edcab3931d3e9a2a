"""A later projection view on SDXL in half precision (as on a GPU) runs diffusers' ControlNet
inpainting pipeline, which casts the shared VAE to float32 for its decode and never back. The
next job must neither fail (float16 latents into float32 weights) nor change: the VAE is put
back as it was, and the next texture equals one made before the projection."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pipeline_jobs import texture_job

from backend import device
from backend.model_cache import ModelCache
from backend.task_context import JobContext
from backend.tasks import project
from core import protocol


@pytest.fixture
def half_precision_on_the_cpu(monkeypatch):
    """Jobs load and compute in float16, as they do on a GPU, on the CPU."""
    monkeypatch.setattr(device, "default_dtype", lambda name: torch.float16)
    for name in ("ATELIER_FAST", "ATELIER_QUANTIZE", "ATELIER_LOW_VRAM", "ATELIER_CPU_OFFLOAD"):
        monkeypatch.delenv(name, raising=False)


def test_a_later_view_leaves_the_sdxl_vae_as_loaded(tiny_sdxl, tiny_controlnet_sdxl, control_request, view,
                                                    half_precision_on_the_cpu, tmp_path):
    cache = ModelCache()
    _, before = texture_job(tiny_sdxl, tmp_path / "before", cache, guidance=0.0)
    request = protocol.decode_request(json.dumps(control_request(  # a later view: inpainting
        "project", model=str(tiny_sdxl), control_model=str(tiny_controlnet_sdxl), guidance=0.0,
        image=str(view["picture"]), mask=str(view["mask"]))))
    output = project.run(request, JobContext(request, cache))
    assert output.files

    _, after = texture_job(tiny_sdxl, tmp_path / "after", cache, guidance=0.0)

    assert np.array_equal(after, before)
