"""(a) The backend's PNG is exactly what a direct diffusers call makes, for SD and SDXL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.tasks.texture import PNG_PROVENANCE_KEY


def direct_png(model, tmp_path, **settings) -> np.ndarray:
    """The same texture made with diffusers alone, written as a PNG and read back."""
    import torch
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(str(model), dtype=torch.float32, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    negative = {"negative_prompt": settings["negative_prompt"]} if settings.get("negative_prompt") else {}
    image = pipe(
        prompt=settings["prompt"], **negative,
        width=settings["width"], height=settings["height"], num_inference_steps=settings["steps"],
        guidance_scale=settings["guidance"],
        generator=torch.Generator("cpu").manual_seed(settings["seed"]),
    ).images[0]
    path = tmp_path / "direct.png"
    image.save(path)
    return np.asarray(Image.open(path))


@pytest.mark.parametrize("model_fixture", ["tiny_sd", "tiny_sdxl", "tiny_flux"])
def test_png_is_pixel_identical_to_direct_diffusers(backend, texture_request, tmp_path, request,
                                                    model_fixture):
    model = request.getfixturevalue(model_fixture)
    negative = "" if model_fixture == "tiny_flux" else "blurry"  # FLUX takes no negative prompt
    job = texture_request(model=str(model), negative_prompt=negative, guidance=4.0, seed=1234)
    final = backend.request(job)
    assert final["type"] == "result", final
    (file,) = final["files"]
    assert file["role"] == "base_color" and file["format"] == "png"

    served = np.asarray(Image.open(file["path"]))
    expected = direct_png(model, tmp_path, **{k: job[k] for k in
                                              ("prompt", "negative_prompt", "width", "height", "steps",
                                               "guidance", "seed")})
    assert served.shape == (64, 64, 3)
    assert np.array_equal(served, expected)


def test_provenance_travels_in_result_and_png(backend, texture_request, tiny_sd):
    final = backend.request(texture_request(seed=None, prompt="green moss", steps=3))
    assert final["type"] == "result", final
    record = final["metadata"]
    assert record["schema"] == "atelier.provenance/1"
    assert record["engine"] == "diffusers" and record["model"] == str(tiny_sd)
    assert record["device"] == "cpu" and record["dtype"] == "float32"
    assert record["scheduler"]["class"] == "EulerDiscreteScheduler"
    assert {"torch", "diffusers", "transformers", "python"} <= set(record["versions"])
    params = record["parameters"]
    assert params["prompt"] == "green moss" and params["steps"] == 3
    assert 0 <= params["seed"] < 2**31  # a random seed is chosen and reported
    assert final["data"]["seed"] == params["seed"]
    png = Image.open(final["files"][0]["path"])
    assert json.loads(png.text[PNG_PROVENANCE_KEY]) == record


def test_family_defaults_fill_missing_settings(backend, texture_request, tiny_sd, tmp_path):
    turbo = shutil.copytree(tiny_sd, tmp_path / "tiny-sd-turbo")
    final = backend.request(texture_request(model=str(turbo), width=None, height=None, steps=None))
    assert final["type"] == "result", final
    params = final["metadata"]["parameters"]
    assert (params["steps"], params["guidance"]) == (1, 0.0)  # Turbo: one step, no guidance
    assert (params["width"], params["height"]) == (64, 64)  # the UNet's native size
    plain = backend.request(texture_request(steps=None, guidance=None))["metadata"]["parameters"]
    assert (plain["steps"], plain["guidance"]) == (30, 7.5)


def test_flux_defaults_and_refusals(backend, texture_request, tiny_flux):
    final = backend.request(texture_request(model=str(tiny_flux), steps=None, guidance=None))
    assert final["type"] == "result", final
    params = final["metadata"]["parameters"]
    assert (params["steps"], params["guidance"]) == (28, 3.5)  # FLUX.1-dev's recommended values
    assert final["metadata"]["family"] == "flux-dev"
    for bad in ({"seamless": "xy"}, {"negative_prompt": "blurry"}, {"width": 72}):
        error = backend.request(texture_request(model=str(tiny_flux), **bad))
        assert error["type"] == "error" and error["code"] == "bad_request" and error["hint"], error


def test_files_stay_inside_the_named_folder(backend, texture_request, tmp_path):
    out = tmp_path / "confined"
    final = backend.request(texture_request(id="../../escape", output_dir=str(out)))
    assert final["type"] == "result", final
    written = Path(final["files"][0]["path"]).resolve()
    assert written.is_file()
    assert written.parent.parent == out.resolve()  # a per-job folder directly under output_dir
