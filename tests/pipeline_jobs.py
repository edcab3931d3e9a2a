"""Texture and refine jobs run in the test's process through the real tasks, with a model cache
of the test's own: the fast path, quantisation and memory mode are applied as a model loads, so a
pipeline set up under one setting must never answer a job run under another."""

from __future__ import annotations

import numpy as np
from PIL import Image

from backend import fast_path, quantisation, setup_notes
from backend.model_cache import ModelCache
from backend.prompt_cache import TEXT_ENCODERS
from backend.task_context import JobContext
from backend.tasks import refine, texture
from core import protocol

# Small and quick: 64 px, two steps, SD's guidance (two rows per step: the unconditional one too).
SETTINGS = {"prompt": "weathered red bricks", "steps": 2, "guidance": 7.5, "seed": 7,
            "width": 64, "height": 64}


def texture_job(model, out_dir, cache: ModelCache, events: list | None = None, **fields):
    """A texture of ``model`` made through the texture task with the pipeline in ``cache``
    (``fields`` override ``SETTINGS``; the job's events go to ``events``); returns
    (output, pixels)."""
    request = protocol.TextureRequest(id="pipeline-test", model=str(model), output_dir=str(out_dir),
                                      device="cpu", **{**SETTINGS, **fields})
    sink = events if events is not None else []
    output = texture.run(request, JobContext(request, cache, emit=sink.append))
    (file,) = output.files
    return output, np.asarray(Image.open(file.path))


def refine_job(model, image, out_dir, cache: ModelCache, **fields):
    """``image`` refined with ``model`` through the refine task, with the pipeline in ``cache``
    (``fields`` override the request's); returns (output, pixels)."""
    settings = {name: SETTINGS[name] for name in ("prompt", "steps", "guidance", "seed")}
    request = protocol.RefineRequest(id="pipeline-refine", model=str(model), image=str(image),
                                     output_dir=str(out_dir), device="cpu",
                                     **{**settings, "strength": 0.6, **fields})
    output = refine.run(request, JobContext(request, cache))
    (file,) = output.files
    return output, np.asarray(Image.open(file.path))


def loaded_pipeline(cache: ModelCache, model, loader=texture.load_pipeline):
    """The texture pipeline ``cache`` holds for ``model``, loaded (and set up) now by ``loader``
    if it is not."""
    request = protocol.TextureRequest(id="peek", prompt="-", model=str(model), device="cpu")
    return JobContext(request, cache).load("texture", str(model), loader)


def offloaded_to_the_cpu(located, device, dtype):
    """The texture pipeline as ``pipeline_setup.prepare`` sets it up on a CUDA GPU under
    ``ATELIER_CPU_OFFLOAD=1`` (offload first, then the rest), with the CPU standing in for the GPU."""
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(located.path_or_id, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    pipe.enable_model_cpu_offload(device=device)
    setup_notes.note(pipe, "cpu_offload", True)  # as memory_mode notes it
    quantisation.quantise(pipe, device)
    fast_path.speed_up(pipe, device)
    return pipe


def encoder_runs(pipe) -> dict:
    """How often each text encoder really computes from now on: a forward hook on its token
    embedding, which a cached call never reaches."""
    runs = {}
    for name in TEXT_ENCODERS:
        encoder = getattr(pipe, name, None)
        if encoder is not None:
            runs[name] = 0
            encoder.get_input_embeddings().register_forward_hook(
                lambda module, args, output, name=name: runs.__setitem__(name, runs[name] + 1))
    return runs


# How close a fast-path texture stays to the eager one on the CPU (fp32). Measured with
# bench/fast_path_cpu.py: 84 dB the lowest over 16 SD and SDXL textures (64 and 128 px, four
# seeds), most pixel-identical or one level apart. A projection fused wrongly or weights laid out
# wrongly give noise, under 20 dB.
FAST_PSNR_BOUND = 60.0
