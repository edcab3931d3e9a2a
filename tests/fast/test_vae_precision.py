"""SDXL's half-precision VAE, which the pipelines cast to float32 and back at every decode and
encode, stays float32 once its decoder runs CUDA graphs: its weights stay where the graphs
recorded them, call after call, also through the edit pipelines that share it; fusing still shares
its projections' weights, and the images differ from the casting pipeline's by float16 rounding
only. Pipelines that do not cast (SD 1.x/2.x), and SDXL without CUDA graphs (uncompiled, or
compiled without graphs off CUDA), keep their VAE as loaded."""

from __future__ import annotations

import pytest
import torch
from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image
from pipeline_jobs import FAST_PSNR_BOUND

from backend import fast_path, setup_notes
from bench.gpu_setup import psnr_db

# CUDA graphs' mode, traced by dynamo's eager backend (which ignores the mode) on the CPU.
CUDA_GRAPHS = fast_path.Settings(True, fast_path.CUDA_COMPILE_MODE, compile_backend="eager")


@pytest.fixture
def compile_stance():
    """Compiling sets torch's process-wide stance (compile only while warming up); reset after."""
    yield
    torch.compiler.set_stance("default")


def half_pipeline(folder):
    return AutoPipelineForText2Image.from_pretrained(str(folder), dtype=torch.float16)


def weight_addresses(model) -> list[int]:
    return [param.data_ptr() for param in model.parameters()]


def generate(pipe, **fields):
    return pipe("a brick wall", num_inference_steps=2, width=64, height=64, guidance_scale=0.0,
                output_type="pt", generator=torch.Generator().manual_seed(3), **fields).images


def test_under_cuda_graphs_an_sdxl_vae_stays_float32_where_it_was(tiny_sdxl, compile_stance):
    reference = generate(half_pipeline(tiny_sdxl))  # the pipeline casts its VAE for this decode
    pipe = half_pipeline(tiny_sdxl)

    fast_path.speed_up(pipe, "cpu", CUDA_GRAPHS)

    assert pipe.vae.dtype == torch.float32 and not pipe.vae.config.force_upcast
    assert setup_notes.applied(pipe)["vae_float32"].startswith("yes")
    fused = [module for module in pipe.vae.modules() if hasattr(module, "to_qkv")]
    assert fused and all(module.to_q.weight.untyped_storage().data_ptr()
                         == module.to_qkv.weight.untyped_storage().data_ptr() for module in fused)
    addresses = weight_addresses(pipe.vae)
    image = generate(pipe)
    assert weight_addresses(pipe.vae) == addresses
    assert psnr_db(image.numpy(), reference.numpy()) >= FAST_PSNR_BOUND
    edit = AutoPipelineForImage2Image.from_pipe(pipe)  # encodes a float16 image with the same VAE
    edited = edit("a brick wall", image=image.half(), strength=0.5, num_inference_steps=2,
                  guidance_scale=0.0, output_type="pt", generator=torch.Generator().manual_seed(3)).images
    assert torch.isfinite(edited).all()
    assert pipe.vae.dtype == torch.float32 and weight_addresses(pipe.vae) == addresses


@pytest.mark.parametrize(("model_fixture", "settings"), [
    ("tiny_sd", CUDA_GRAPHS),  # SD pipelines decode in the VAE's own precision
    ("tiny_sdxl", fast_path.Settings(True, None)),  # not compiled: the pipeline's casts are harmless
    # compiled without CUDA graphs (other devices): casts are harmless too, and on Apple GPUs
    # diffusers casts a float32 VAE back to float16 at every decode
    ("tiny_sdxl", fast_path.Settings(True, fast_path.OTHER_COMPILE_MODE, compile_backend="eager")),
])
def test_other_vaes_stay_as_loaded(model_fixture, settings, request, compile_stance):
    pipe = half_pipeline(request.getfixturevalue(model_fixture))

    fast_path.speed_up(pipe, "cpu", settings)

    assert pipe.vae.dtype == torch.float16
    assert setup_notes.applied(pipe).get("vae_float32", "no") == "no"
