"""ATELIER_QUANTIZE=int8 on the CPU: the denoiser's Linear weights become torchao int8 tensors,
the texture stays within a measured PSNR of the unquantised one made with the same seed, the
record says so, and refine (a pipeline made from the cached one) runs on the quantised weights."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image
from pipeline_jobs import loaded_pipeline, refine_job, texture_job

from backend import pipeline_setup, quantisation
from backend.model_cache import ModelCache
from bench.gpu_setup import psnr_db
from core.errors import TaskError

# Measured with the tiny random models (64 px, two steps): SD 58.6 dB, SDXL 56.3 dB; the image
# against itself shifted by a few pixels scores 12-14 dB. The bound leaves room for rounding only.
INT8_PSNR_DB = 45.0


def linear_weights(model: torch.nn.Module) -> list:
    return [module.weight for module in model.modules() if isinstance(module, torch.nn.Linear)]


@pytest.mark.parametrize("model_fixture", ["tiny_sd", "tiny_sdxl"])
def test_int8_quantises_the_denoiser_within_the_bound(request, model_fixture, tmp_path, monkeypatch):
    from torchao.quantization import Int8Tensor

    model = request.getfixturevalue(model_fixture)
    monkeypatch.delenv(quantisation.QUANTIZE_ENV, raising=False)
    _, plain = texture_job(model, tmp_path / "plain", ModelCache())
    monkeypatch.setenv(quantisation.QUANTIZE_ENV, "int8")
    cache = ModelCache()
    output, quantised = texture_job(model, tmp_path / "int8", cache)

    pipe = loaded_pipeline(cache, model)
    weights = linear_weights(pipe.unet)
    assert weights and all(isinstance(weight, Int8Tensor) for weight in weights)
    # Only the denoiser: the text encoders and the VAE keep their float weights.
    assert not any(isinstance(weight, Int8Tensor) for weight in linear_weights(pipe.text_encoder))
    measured = psnr_db(quantised, plain)
    print(f"{model_fixture} int8 against float32, same seed: {measured:.1f} dB")
    assert INT8_PSNR_DB <= measured < float("inf")  # close, and yet not the unquantised image
    assert pipeline_setup.applied(pipe)["quantize"] == "int8"
    assert output.metadata["optimisations"]["quantize"] == "int8"


def test_int8_quantises_the_flux_transformer(tiny_flux, monkeypatch):
    from torchao.quantization import Int8Tensor

    monkeypatch.setenv(quantisation.QUANTIZE_ENV, "int8")
    pipe = loaded_pipeline(ModelCache(), tiny_flux)
    weights = linear_weights(pipe.transformer)
    assert weights and all(isinstance(weight, Int8Tensor) for weight in weights)
    assert pipeline_setup.applied(pipe)["quantize"] == "int8"


def test_refine_runs_on_the_quantised_denoiser(tiny_sd, tmp_path, monkeypatch):
    from torchao.quantization import Int8Tensor

    monkeypatch.setenv(quantisation.QUANTIZE_ENV, "int8")
    cache = ModelCache()
    _, picture = texture_job(tiny_sd, tmp_path / "texture", cache)
    image = tmp_path / "picture.png"
    Image.fromarray(picture).save(image)
    output, refined = refine_job(tiny_sd, image, tmp_path / "refined", cache)
    assert refined.shape == picture.shape and not np.array_equal(refined, picture)
    pipe = loaded_pipeline(cache, tiny_sd)  # from_pipe shared its UNet: still the quantised one
    assert all(isinstance(weight, Int8Tensor) for weight in linear_weights(pipe.unet))
    assert output.metadata["pipeline"] == "StableDiffusionImg2ImgPipeline"
    assert output.metadata["optimisations"]["quantize"] == "int8"  # its record says what it ran on


@pytest.mark.parametrize("value", ["int4", "fp16", "on"])
def test_an_unknown_mode_is_refused_with_the_choices(value, tiny_sd, monkeypatch):
    monkeypatch.setenv(quantisation.QUANTIZE_ENV, value)
    with pytest.raises(TaskError) as caught:
        loaded_pipeline(ModelCache(), tiny_sd)
    error = caught.value
    assert error.code == "bad_request"
    assert f"ATELIER_QUANTIZE='{value}'" in error.message
    assert "off, int8, fp8" in error.hint and "restart" in error.hint


def test_fp8_on_the_cpu_is_refused_and_int8_suggested(tiny_sd, monkeypatch):
    monkeypatch.setenv(quantisation.QUANTIZE_ENV, "fp8")
    with pytest.raises(TaskError) as caught:
        loaded_pipeline(ModelCache(), tiny_sd)
    error = caught.value
    assert error.code == "bad_request"
    assert "ATELIER_QUANTIZE=fp8" in error.message and "8.9" in error.message and "cpu" in error.message
    assert "ATELIER_QUANTIZE=int8" in error.hint and "off" in error.hint


def test_without_torchao_the_error_says_how_to_install_it(tiny_sd, monkeypatch):
    # None in sys.modules makes the import fail as it does where torchao is not installed.
    monkeypatch.setitem(sys.modules, "torchao.quantization", None)
    monkeypatch.setenv(quantisation.QUANTIZE_ENV, "int8")
    with pytest.raises(TaskError) as caught:
        loaded_pipeline(ModelCache(), tiny_sd)
    assert caught.value.code == "bad_request" and "torchao" in caught.value.message
    assert "pip install torchao" in caught.value.hint


def test_off_leaves_the_weights_as_loaded_and_says_so(tiny_sd, monkeypatch):
    monkeypatch.delenv(quantisation.QUANTIZE_ENV, raising=False)
    pipe = loaded_pipeline(ModelCache(), tiny_sd)
    assert all(type(weight) is torch.nn.Parameter for weight in linear_weights(pipe.unet))
    assert pipeline_setup.applied(pipe)["quantize"] == "off"


def test_the_fast_path_runs_on_the_quantised_denoiser_and_leaves_its_projections_unfused(
        tiny_sd, tmp_path, monkeypatch):
    """Quantising comes first; the fast path (here without compiling, which the GPU benchmark
    covers) then finds torchao weights, which cannot be concatenated into fused projections."""
    from torchao.quantization import Int8Tensor

    monkeypatch.setenv(quantisation.QUANTIZE_ENV, "int8")
    monkeypatch.setenv("ATELIER_FAST", "on")
    monkeypatch.setenv("ATELIER_COMPILE", "0")
    cache = ModelCache()
    output, pixels = texture_job(tiny_sd, tmp_path / "fast", cache)
    record = output.metadata["optimisations"]
    assert record["quantize"] == "int8" and record["fast"].startswith("on")
    assert "UNet2DConditionModel: quantised weights" in record["fused_qkv"]
    unet = loaded_pipeline(cache, tiny_sd).unet
    assert all(isinstance(weight, Int8Tensor) for weight in linear_weights(unet))
    assert pixels.shape == (64, 64, 3)
