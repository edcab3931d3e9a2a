"""Served refine and inpaint results against direct diffusers calls, for SD, SDXL and FLUX."""

from __future__ import annotations

import json

import numpy as np
import pytest
from edit_pictures import block_mask, noise_picture, read_rgb16, save, write_rgb16
from PIL import Image

from backend.tasks.texture import PNG_PROVENANCE_KEY

FAMILIES = ["tiny_sd", "tiny_sdxl", "tiny_flux"]


def direct(auto_class: str, model, prompt: str, negative_prompt: str, seed: int, **call):
    """The same edit with diffusers alone (float output, 0..1)."""
    import diffusers
    import torch

    pipe = getattr(diffusers, auto_class).from_pretrained(str(model), dtype=torch.float32,
                                                          use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    if negative_prompt:
        call["negative_prompt"] = negative_prompt
    if type(pipe).__name__.startswith("Flux"):  # FLUX makes 1024 px unless told the size
        call.update(width=64, height=64)
    return pipe(prompt=prompt, generator=torch.Generator("cpu").manual_seed(seed), output_type="np",
                **call).images[0]


def as_8bit(values: np.ndarray) -> np.ndarray:
    return (values * 255).round().astype(np.uint8)  # how diffusers makes its PIL images


def negative_for(model_fixture: str) -> str:
    return "" if model_fixture == "tiny_flux" else "blurry"  # FLUX takes no negative prompt


@pytest.mark.parametrize("model_fixture", FAMILIES)
def test_refine_is_pixel_identical_to_direct_image_to_image(backend, edit_request, tmp_path, request,
                                                            model_fixture):
    model = request.getfixturevalue(model_fixture)
    image = save(noise_picture(1), tmp_path / "picture.png")
    job = edit_request("refine", image, model=str(model), negative_prompt=negative_for(model_fixture),
                       strength=0.6, steps=4, guidance=4.0, seed=1234)
    final = backend.request(job)
    assert final["type"] == "result", final
    (file,) = final["files"]
    assert file["role"] == "base_color" and file["format"] == "png"
    served = np.asarray(Image.open(file["path"]))
    expected = direct("AutoPipelineForImage2Image", model, job["prompt"], job["negative_prompt"], 1234,
                      image=Image.open(image), strength=0.6, num_inference_steps=4, guidance_scale=4.0)
    assert served.shape == (64, 64, 3) and np.array_equal(served, as_8bit(expected))
    assert not np.array_equal(served, noise_picture(1))  # it did change the picture

    record = final["metadata"]
    params = record["parameters"]
    assert params["strength"] == 0.6 and params["image"] == str(image) and params["style"] == ""
    assert (params["width"], params["height"], params["steps"]) == (64, 64, 4)
    assert final["data"]["notes"] == [] and final["data"]["seed"] == 1234
    assert json.loads(Image.open(file["path"]).text[PNG_PROVENANCE_KEY]) == record


@pytest.mark.parametrize("model_fixture", FAMILIES)
def test_inpaint_keeps_the_outside_and_equals_direct_inpainting_inside(backend, edit_request, tmp_path,
                                                                       request, model_fixture):
    model = request.getfixturevalue(model_fixture)
    picture = noise_picture(2)
    image = save(picture, tmp_path / "picture.png")
    mask = save(block_mask(), tmp_path / "mask.png")
    job = edit_request("inpaint", image, mask=str(mask), model=str(model), steps=3, guidance=4.0,
                       negative_prompt=negative_for(model_fixture))
    final = backend.request(job)
    assert final["type"] == "result", final
    served = np.asarray(Image.open(final["files"][0]["path"]))
    inside = block_mask() == 255
    assert np.array_equal(served[~inside], picture[~inside])
    expected = as_8bit(direct("AutoPipelineForInpainting", model, job["prompt"], job["negative_prompt"], 7,
                              image=Image.open(image), mask_image=Image.open(mask), strength=1.0,
                              num_inference_steps=3, guidance_scale=4.0))
    assert np.array_equal(served[inside], expected[inside])
    assert not np.array_equal(served[inside], picture[inside])
    assert final["data"]["strength"] == 1.0 and final["metadata"]["parameters"]["mask"] == str(mask)


def test_sixteen_bit_picture_stays_sixteen_bit_and_exact_outside(backend, edit_request, tmp_path, tiny_sd):
    rng = np.random.default_rng(3)
    picture = rng.integers(0, 65536, (64, 64, 3), dtype=np.uint16)
    image = write_rgb16(picture, tmp_path / "deep.png")
    mask = save(block_mask(), tmp_path / "mask.png")
    final = backend.request(edit_request("inpaint", image, mask=str(mask), steps=3))
    assert final["type"] == "result", final
    served = read_rgb16(final["files"][0]["path"])
    inside = block_mask() == 255
    assert served.dtype == np.uint16 and np.array_equal(served[~inside], picture[~inside])
    expected = direct("AutoPipelineForInpainting", tiny_sd, "weathered red bricks", "", 7,
                      image=(picture / 65535).astype(np.float32)[None], mask_image=Image.open(mask),
                      strength=1.0, num_inference_steps=3)
    assert np.array_equal(served[inside], np.rint(expected[inside] * 65535).astype(np.uint16))
    assert len(np.unique(served[inside] % 257)) > 1  # values between the 8-bit levels: truly 16-bit

    refined = backend.request(edit_request("refine", image))
    assert refined["type"] == "result", refined
    assert read_rgb16(refined["files"][0]["path"]).shape == (64, 64, 3)


def test_transparent_parts_are_the_mask_when_none_is_named(backend, edit_request, tmp_path):
    picture = noise_picture(4)
    rgba = np.dstack([picture, np.where(block_mask() == 255, 0, 255).astype(np.uint8)])
    with_alpha = backend.request(edit_request("inpaint", save(rgba, tmp_path / "cutout.png")))
    mask = save(block_mask(), tmp_path / "mask.png")
    plain = save(picture, tmp_path / "plain.png")
    with_mask = backend.request(edit_request("inpaint", plain, mask=str(mask)))
    assert with_alpha["type"] == with_mask["type"] == "result", (with_alpha, with_mask)
    by_alpha = np.asarray(Image.open(with_alpha["files"][0]["path"]))
    assert by_alpha.shape == (64, 64, 3)
    assert np.array_equal(by_alpha, np.asarray(Image.open(with_mask["files"][0]["path"])))


def test_mask_of_another_size_and_the_same_aspect_is_resampled(backend, edit_request, tmp_path):
    from core.image_edit import fit_mask

    picture = noise_picture(5, size=128)  # also off the model's native 64 px: made at the picture's size
    small = block_mask(64, 64)
    final = backend.request(edit_request("inpaint", save(picture, tmp_path / "p.png"),
                                         mask=str(save(small, tmp_path / "small.png"))))
    assert final["type"] == "result", final
    served = np.asarray(Image.open(final["files"][0]["path"]))
    kept = fit_mask(small / 255.0, 128, 128) == 0
    assert served.shape == (128, 128, 3) and 0 < kept.sum() < kept.size
    assert np.array_equal(served[kept], picture[kept]) and not np.array_equal(served, picture)
    assert (final["data"]["width"], final["data"]["height"]) == (128, 128)
