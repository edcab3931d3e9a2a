"""A ControlNet job on an offloaded texture pipeline (ATELIER_CPU_OFFLOAD, ATELIER_LOW_VRAM on a
CUDA GPU) offloads the ControlNet too, instead of keeping it on the GPU, and still paints."""

from __future__ import annotations

import numpy as np
from pipeline_jobs import SETTINGS, loaded_pipeline, offloaded_to_the_cpu

from backend import control_pipeline
from backend.model_cache import ModelCache
from backend.task_context import JobContext
from core import protocol


def test_the_controlnet_of_an_offloaded_pipeline_is_offloaded_and_paints(tiny_sd, tiny_controlnet, tmp_path,
                                                                          monkeypatch):
    for name in ("ATELIER_FAST", "ATELIER_QUANTIZE", "ATELIER_LOW_VRAM", "ATELIER_CPU_OFFLOAD"):
        monkeypatch.delenv(name, raising=False)
    cache = ModelCache()
    loaded_pipeline(cache, tiny_sd, offloaded_to_the_cpu)
    request = protocol.ProjectRequest(id="offloaded-view", model=str(tiny_sd), device="cpu",
                                      control_model=str(tiny_controlnet), output_dir=str(tmp_path))
    job = JobContext(request, cache)
    pipelines = control_pipeline.load(job, request, "AutoPipelineForText2Image")

    assert getattr(pipelines.edit.controlnet, "_hf_hook", None) is not None  # moved only to compute
    depth = np.linspace(0, 1, SETTINGS["width"] * SETTINGS["height"] * 3, dtype=np.float32)
    painted = control_pipeline.text_to_image_pixels(
        job, pipelines.edit, pipelines.family, depth.reshape(SETTINGS["height"], SETTINGS["width"], 3),
        prompt=SETTINGS["prompt"], negative_prompt="", steps=SETTINGS["steps"], guidance=SETTINGS["guidance"],
        seed=SETTINGS["seed"])
    assert painted.shape == (SETTINGS["height"], SETTINGS["width"], 3) and np.isfinite(painted).all()
