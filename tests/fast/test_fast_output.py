"""The fast path on the CPU (``ATELIER_FAST=on``, ``ATELIER_COMPILE=0``): scaled-dot-product
attention, fused QKV projections and channels-last weights change the order of the arithmetic
only, so a texture stays within ``FAST_PSNR_BOUND`` of the eager one made with the same seed; ``auto``
stays off on the CPU; the record says which; the edit pipelines made from the fast one work."""

from __future__ import annotations

import pytest
from pipeline_jobs import FAST_PSNR_BOUND, loaded_pipeline, refine_job, texture_job

from backend.model_cache import ModelCache
from bench.gpu_setup import psnr_db


def fast_on(monkeypatch):
    monkeypatch.setenv("ATELIER_FAST", "on")
    monkeypatch.setenv("ATELIER_COMPILE", "0")


def attention_processors(pipe) -> set:
    return {type(p).__name__ for model in (pipe.unet, pipe.vae) for p in model.attn_processors.values()}


def fused(pipe) -> set:
    """Whether the attention layers of the denoiser and the VAE have fused projections."""
    denoiser = getattr(pipe, "unet", None) or pipe.transformer
    return {module.fused_projections for model in (denoiser, pipe.vae) for module in model.modules()
            if hasattr(module, "fused_projections")}


def channels_last(pipe) -> bool:
    import torch

    convs = [model.conv_in for model in (getattr(pipe, "unet", None), pipe.vae.decoder) if model is not None]
    return all(conv.weight.is_contiguous(memory_format=torch.channels_last) for conv in convs)


@pytest.mark.parametrize("model_fixture, denoiser, moved", [
    ("tiny_sd", "UNet2DConditionModel", "unet, vae"), ("tiny_sdxl", "UNet2DConditionModel", "unet, vae"),
    ("tiny_flux", "FluxTransformer2DModel", "vae")])  # FLUX's transformer has no convolutions
def test_fast_path_stays_within_the_psnr_bound_of_eager(model_fixture, denoiser, moved, request, tmp_path,
                                                        monkeypatch):
    model = request.getfixturevalue(model_fixture)
    guidance = {"guidance": 3.5} if model_fixture == "tiny_flux" else {}
    monkeypatch.setenv("ATELIER_FAST", "off")
    _, eager = texture_job(model, tmp_path, ModelCache(), **guidance)
    fast_on(monkeypatch)
    cache = ModelCache()
    output, fast = texture_job(model, tmp_path, cache, **guidance)

    assert psnr_db(fast, eager) >= FAST_PSNR_BOUND
    applied = output.metadata["optimisations"]
    assert applied["fast"] == "on" and applied["fast_setting"] == "ATELIER_FAST=on"
    assert applied["fused_qkv"] == f"{denoiser}, AutoencoderKL"
    assert applied["channels_last"] == moved
    assert applied["compile"] == "off (ATELIER_COMPILE off)"
    pipe = loaded_pipeline(cache, model)
    assert fused(pipe) == {True}
    assert channels_last(pipe)
    if denoiser.startswith("UNet"):
        assert attention_processors(pipe) == {"FusedAttnProcessor2_0"}


def test_auto_is_off_on_the_cpu_and_the_record_says_so(tiny_sd, tmp_path, monkeypatch):
    monkeypatch.delenv("ATELIER_FAST", raising=False)
    cache = ModelCache()
    output, _ = texture_job(tiny_sd, tmp_path, cache)

    applied = output.metadata["optimisations"]
    assert applied["fast"] == "off" and applied["fast_setting"] == "ATELIER_FAST=auto on cpu"
    assert applied["prompt_cache"] == "text_encoder"  # exact, so on whatever the setting
    assert not {"fused_qkv", "channels_last", "compile"} & applied.keys()
    pipe = loaded_pipeline(cache, tiny_sd)
    assert attention_processors(pipe) == {"AttnProcessor2_0"}
    assert fused(pipe) == {False}
    assert not channels_last(pipe)


def test_refine_runs_on_the_fast_pipeline_within_the_bound(tiny_sd, tmp_path, monkeypatch):
    """Refine makes its image-to-image pipeline from the cached fast one (``from_pipe``): it
    shares the fused, channels-last models and stays within the bound of an eager refine."""
    monkeypatch.setenv("ATELIER_FAST", "off")
    eager_cache = ModelCache()
    texture, _ = texture_job(tiny_sd, tmp_path / "eager", eager_cache)
    _, eager = refine_job(tiny_sd, texture.files[0].path, tmp_path / "eager", eager_cache)
    fast_on(monkeypatch)
    cache = ModelCache()
    texture_job(tiny_sd, tmp_path / "fast", cache)
    _, fast = refine_job(tiny_sd, texture.files[0].path, tmp_path / "fast", cache)

    assert fast.shape == eager.shape == (64, 64, 3)
    assert psnr_db(fast, eager) >= FAST_PSNR_BOUND
    assert fused(loaded_pipeline(cache, tiny_sd)) == {True}
