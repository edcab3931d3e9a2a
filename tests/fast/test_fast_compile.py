"""Compiling through the texture task: torch.compile's tracing, guards and in-place forward of the
UNet and the VAE decoder, the warm-up at the job's size only, reported once per size as a stage,
later jobs at that size compiled already and unchanged, and seamless jobs on the eager code. The
backend is dynamo's ``eager`` one: inductor's code generation takes over a minute for the tiny
model on a CPU, so it is checked by the GPU benchmark (bench/gpu_fast.py) instead."""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_jobs import FAST_PSNR_BOUND, loaded_pipeline, texture_job

from backend import fast_path, torch_compile
from backend.model_cache import ModelCache
from backend.task_context import JobContext
from backend.tasks import upscale
from bench.gpu_setup import psnr_db
from core import protocol
from core.tiny_autoencoders import TINY_AUTOENCODER_ENV

STAGE = "compiling the model for 64x64 (first time only)"


def stages(events) -> list:
    return [event.stage for event in events if getattr(event, "stage", "")]


def dynamo_stance() -> str:
    """The stance compiled code runs under now (``torch.compiler.set_stance``)."""
    import torch._dynamo.eval_frame

    return torch._dynamo.eval_frame._stance.stance


@pytest.fixture
def compile_stance():
    """Compiling sets torch's process-wide stance (compile only while warming up); reset after."""
    import torch

    yield
    torch.compiler.set_stance("default")


def test_compiled_jobs_warm_up_once_per_size_and_seamless_ones_run_eager(tiny_sd, tiny_autoencoder, tmp_path,
                                                                         monkeypatch, compile_stance):
    monkeypatch.setenv("ATELIER_FAST", "on")
    monkeypatch.setenv("ATELIER_COMPILE", "0")
    monkeypatch.setenv(TINY_AUTOENCODER_ENV, str(tiny_autoencoder))
    eager_cache = ModelCache()
    _, eager = texture_job(tiny_sd, tmp_path, eager_cache)
    _, eager_seamless = texture_job(tiny_sd, tmp_path, eager_cache, seamless="xy")
    cache = ModelCache()
    pipe = loaded_pipeline(cache, tiny_sd)
    fast_path.speed_up(pipe, "cpu", fast_path.Settings(True, "default", compile_backend="eager"))
    assert fast_path.compiling(pipe)
    assert torch_compile.is_compiled(pipe.vae.decoder)  # the VAE decoder too, its forward dynamo's
    assert pipe.vae.decoder.forward._torchdynamo_orig_callable is not None
    full_decodes = []
    pipe.vae.decoder.register_forward_hook(lambda *args: full_decodes.append(1))
    # The compiler's stance at each UNet call (hooks run outside the compiled forward): a seamless
    # job's calls must skip the compiled code, not merely come out equal to eager ones.
    stances = []
    pipe.unet.register_forward_pre_hook(lambda *args: stances.append(dynamo_stance()))

    # The first job asks for a size other than the native one (64 px): only that size compiles.
    preview_events = []
    texture_job(tiny_sd, tmp_path, cache, preview_events, tiny_autoencoder=True, width=128)
    assert stages(preview_events) == [STAGE.replace("64x64", "128x64")]
    assert not full_decodes  # warmed without the full decoder

    first_events, again_events, seamless_events = [], [], []
    _, first = texture_job(tiny_sd, tmp_path, cache, first_events)
    stances.clear()
    _, again = texture_job(tiny_sd, tmp_path, cache, again_events)
    assert stances and "force_eager" not in stances
    stances.clear()
    output, seamless = texture_job(tiny_sd, tmp_path, cache, seamless_events, seamless="xy")
    assert stances and set(stances) == {"force_eager"}

    assert stages(first_events) == [STAGE]  # the full decoder is its own variant: warmed at 64 px
    assert stages(again_events) == stages(seamless_events) == []
    np.testing.assert_array_equal(again, first)
    assert psnr_db(first, eager) >= FAST_PSNR_BOUND  # the traced graph runs the same operations
    np.testing.assert_array_equal(seamless, eager_seamless)
    assert output.metadata["optimisations"]["compile"] == (
        "eager for this job (default (UNet2DConditionModel, VAE decoder))")
    # An edit runs the texture pipeline's compiled models, eagerly when seamless, and says so.
    upscale_request = protocol.UpscaleRequest(id="seamless-upscale", model=str(tiny_sd), prompt="bricks",
                                              image=output.files[0].path, steps=2, seed=7, seamless="xy",
                                              output_dir=str(tmp_path), device="cpu")
    upscaled = upscale.run(upscale_request, JobContext(upscale_request, cache))
    assert upscaled.metadata["optimisations"]["compile"] == output.metadata["optimisations"]["compile"]
    # An upscale whose tiles are larger than the native size decodes the VAE in tiles, keeping
    # each tile's pixels while it decodes the next: a CUDA graph would overwrite them, so eager.
    decoder_stances = []
    pipe.vae.decoder.register_forward_pre_hook(lambda *args: decoder_stances.append(dynamo_stance()))
    tiled_request = protocol.UpscaleRequest(id="vae-tiled-upscale", model=str(tiny_sd), prompt="bricks",
                                            image=output.files[0].path, steps=2, seed=7, tile=128,
                                            output_dir=str(tmp_path), device="cpu")
    tiled = upscale.run(tiled_request, JobContext(tiled_request, cache))
    assert decoder_stances and set(decoder_stances) == {"force_eager"}
    assert tiled.metadata["optimisations"]["compile"] == output.metadata["optimisations"]["compile"]

    assert torch_compile.warmed(pipe.unet)
    cache.drop()  # dynamo's compiled code goes with the model: what is still alive warms up again
    assert torch_compile.warmed(pipe.unet) == set()
