"""Served ``project`` and ``restyle`` results against direct diffusers ControlNet calls with the
same depth image and seed, for tiny SD, SDXL and FLUX: the control image reaches the pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from project_pictures import depth_disc, noise_picture, read, save, unpainted_mask
from tiny_pipelines import direct_controlnet_call

from backend.tasks.texture import PNG_PROVENANCE_KEY
from core.control_models import PROJECTION_LIGHTING, projection_prompt

FAMILIES = [("tiny_sd", "tiny_controlnet"), ("tiny_sdxl", "tiny_controlnet_sdxl"),
            ("tiny_flux", "tiny_controlnet_flux")]
IDS = ["sd", "sdxl", "flux"]


def models(request, fixtures) -> tuple:
    return tuple(request.getfixturevalue(name) for name in fixtures)


def served(backend, job: dict) -> np.ndarray:
    final = backend.request(job)
    assert final["type"] == "result", final
    (file,) = final["files"]
    assert file["role"] == "base_color" and file["format"] == "png"
    return read(file["path"])


@pytest.mark.parametrize("fixtures", FAMILIES, ids=IDS)
def test_first_view_is_controlnet_text_to_image(backend, control_request, view, request, fixtures):
    model, controlnet = models(request, fixtures)
    negative = "" if fixtures[0] == "tiny_flux" else "blurry"  # FLUX takes no negative prompt
    job = control_request("project", model=str(model), control_model=str(controlnet),
                          negative_prompt=negative)
    pixels = served(backend, job)
    expected = direct_controlnet_call(model, controlnet, view["depth"], negative_prompt=negative, seed=7,
                                      prompt=projection_prompt(job["prompt"]), steps=2, guidance=4.0)
    assert pixels.shape == (64, 64, 3) and np.array_equal(pixels, expected)


@pytest.mark.parametrize("fixtures", FAMILIES, ids=IDS)
def test_later_view_repaints_the_mask_only_as_controlnet_inpainting(backend, control_request, view, request,
                                                                    fixtures):
    model, controlnet = models(request, fixtures)
    job = control_request("project", model=str(model), control_model=str(controlnet),
                          image=str(view["picture"]), mask=str(view["mask"]))
    pixels = served(backend, job)
    painted = unpainted_mask() == 0
    assert painted.any() and (~painted).any()
    assert np.array_equal(pixels[painted], noise_picture(1)[painted])  # what was painted comes back as it was
    assert not np.array_equal(pixels[~painted], noise_picture(1)[~painted])
    expected = direct_controlnet_call(model, controlnet, view["depth"], seed=7, steps=2, guidance=4.0,
                                      prompt=projection_prompt(job["prompt"]), image=view["picture"],
                                      mask=view["mask"])
    assert np.array_equal(pixels, expected)


@pytest.mark.parametrize("fixtures", FAMILIES, ids=IDS)
def test_restyle_with_depth_is_controlnet_image_to_image(backend, control_request, view, request, fixtures):
    model, controlnet = models(request, fixtures)
    job = control_request("restyle", model=str(model), control_model=str(controlnet), strength=0.6, steps=4)
    pixels = served(backend, job)
    expected = direct_controlnet_call(model, controlnet, view["depth"], prompt=job["prompt"], seed=7, steps=4,
                                      guidance=4.0, image=view["picture"], strength=0.6)
    assert np.array_equal(pixels, expected)
    assert not np.array_equal(pixels, noise_picture(1))


def test_the_depth_image_steers_the_picture(backend, control_request, tmp_path):
    """Another depth image gives another picture; the same one gives the same picture again."""
    other = save(depth_disc(centre=(20, 40), radius=14), tmp_path / "other-depth.png")
    first, again = (served(backend, control_request("project")) for _ in range(2))
    moved = served(backend, control_request("project", control_image=str(other)))
    assert np.array_equal(first, again)
    assert np.abs(first.astype(int) - moved).mean() > 0.3  # about 0.002 with a ControlNet blind to it
    restyled = [served(backend, control_request("restyle", control_image=str(depth)))
                for depth in (tmp_path / "depth.png", other)]
    assert not np.array_equal(*restyled)


def test_restyle_without_depth_is_plain_image_to_image(backend, control_request, view, tiny_sd):
    import diffusers
    import torch

    job = control_request("restyle", control_image="", control_model="", strength=0.6, steps=4)
    final = backend.request(job)
    assert final["type"] == "result", final
    pipe = diffusers.AutoPipelineForImage2Image.from_pretrained(str(tiny_sd), dtype=torch.float32,
                                                                use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(prompt=job["prompt"], image=Image.open(view["picture"]), strength=0.6,
                    num_inference_steps=4, guidance_scale=4.0, output_type="np",
                    generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert np.array_equal(read(final["files"][0]["path"]), (expected * 255).round().astype(np.uint8))
    assert final["metadata"]["pipeline"] == "StableDiffusionImg2ImgPipeline"
    assert final["data"]["control_image"] == "" and final["data"]["control_model"] == ""
    assert final["data"]["control_model_source"] == "" and final["data"]["control_model_revision"] is None


def test_the_record_says_how_the_view_was_made(backend, control_request, view, tiny_controlnet):
    final = backend.request(control_request("project", image=str(view["picture"]), mask=str(view["mask"]),
                                            strength=0.9, steps=3))
    assert final["type"] == "result", final
    record = final["metadata"]
    params = record["parameters"]
    assert params["prompt"] == f"{PROJECTION_LIGHTING}, weathered red bricks"
    assert (params["control_image"], params["image"], params["mask"]) == tuple(
        str(view[name]) for name in ("depth", "picture", "mask"))
    assert params["control_model"] == str(tiny_controlnet)
    assert params["control_model_source"] == str(tiny_controlnet.resolve())
    assert "control_model_revision" in params and params["strength"] == 0.9
    assert (params["width"], params["height"], params["seed"]) == (64, 64, 7)
    assert params["steps"] == 3 and final["data"]["notes"] == []
    assert record["pipeline"] == "StableDiffusionControlNetInpaintPipeline" and record["task"] == "project"
    assert json.loads(Image.open(final["files"][0]["path"]).text[PNG_PROVENANCE_KEY]) == record
    assert final["data"]["control_model"] == str(tiny_controlnet)
