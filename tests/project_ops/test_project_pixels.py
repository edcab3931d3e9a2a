"""End to end through the real backend with the tiny SD model and tiny depth ControlNet: the
control image Blender renders reaches the pipeline. Each picture that comes back is
pixel-identical to a direct diffusers ControlNet call (``tiny_pipelines.direct_controlnet_call``)
with the same depth image, prompt and seed: view 1 text-to-image, view 2 inpainting of its
unpainted mask (every known pixel unchanged), and the restyle's image-to-image."""

from __future__ import annotations

import json
import shutil

import numpy as np
from blender_helpers import image_pixels
from PIL import Image
from project_scenes import cube, scene_camera
from tiny_pipelines import direct_controlnet_call

from core.control_models import projection_prompt


def as_bytes(image) -> np.ndarray:
    """An 8-bit Image datablock's RGB as the PNG held it (top row first)."""
    return np.rint(image_pixels(image)[::-1, :, :3] * 255).astype(np.uint8)


def keep_files(monkeypatch, tmp_path, operator, method: str, fields=("control_image", "image", "mask")):
    """Spy on ``operator.method`` (which returns a request): a copy of every input file each
    request names, before the job's folders go. Returns [(request, {field: copy})]."""
    sent = []
    real = getattr(operator, method)

    def spy(self, *args):
        request = real(self, *args)
        copies = {}
        for field in fields:
            if getattr(request, field, ""):
                copies[field] = tmp_path / f"{len(sent)}-{field}.png"
                shutil.copyfile(getattr(request, field), copies[field])
        sent.append((request, copies))
        return request

    monkeypatch.setattr(operator, method, spy)
    return sent


def test_each_view_matches_a_direct_controlnet_call(bpy_module, addon, clean_scene, control_env, tiny_sd,
                                                    quick_style, monkeypatch, tmp_path):
    bpy = bpy_module
    cube(bpy)
    sent = keep_files(monkeypatch, tmp_path, addon.operators.project.ATELIER_OT_project_texture,
                      "_view_request")
    outcome = bpy.ops.atelier.project_texture(prompt="red brick", views=2, view_size=64, texture_size=64,
                                              seed=9, style=quick_style, control_model=control_env)
    assert outcome == {"FINISHED"}
    assert len(sent) == 2
    parameters = json.loads(bpy.data.materials["red brick"]["atelier_provenance"])["parameters"]
    common = dict(prompt=projection_prompt("red brick"), seed=9, steps=parameters["steps"],
                  guidance=parameters["guidance"])

    first, files = sent[0]
    assert set(files) == {"control_image"}  # view 1 paints the whole view
    depth = np.asarray(Image.open(files["control_image"]))
    assert depth.max() > 0 and depth.min() == 0  # the cube bright, the background black
    expected = direct_controlnet_call(tiny_sd, control_env, files["control_image"], **common)
    assert np.array_equal(as_bytes(bpy.data.images["red brick View 1"]), expected)

    second, files = sent[1]
    mask = np.asarray(Image.open(files["mask"]).convert("L"))
    assert (mask == 0).any() and (mask == 255).any()  # view 1 painted part of what view 2 sees
    got = as_bytes(bpy.data.images["red brick View 2"])
    known = np.asarray(Image.open(files["image"]).convert("RGB"))
    assert np.array_equal(got[mask == 0], known[mask == 0])  # painted pixels come back unchanged
    expected = direct_controlnet_call(tiny_sd, control_env, files["control_image"], image=files["image"],
                                      mask=files["mask"], **common)
    assert np.array_equal(got, expected)


def test_the_restyle_matches_a_direct_controlnet_call(bpy_module, addon, clean_scene, control_env, tiny_sd,
                                                      quick_style, monkeypatch, tmp_path):
    bpy = bpy_module
    cube(bpy)
    scene_camera(bpy, location=(2.0, -5.0, 1.5), rotation=(1.3, 0.0, 0.38))
    sent = keep_files(monkeypatch, tmp_path, addon.operators.restyle.ATELIER_OT_restyle_render,
                      "make_request", fields=("control_image", "image"))
    assert bpy.ops.atelier.restyle_render(prompt="watercolour", strength=0.7, seed=4, style=quick_style,
                                          control_model=control_env) == {"FINISHED"}
    request, files = sent[0]
    depth = np.asarray(Image.open(files["control_image"]))
    assert depth.max() > 0 and depth.min() == 0
    image = bpy.data.images["Restyle watercolour"]
    parameters = json.loads(image["atelier_provenance"])["parameters"]
    expected = direct_controlnet_call(tiny_sd, control_env, files["control_image"], image=files["image"],
                                      strength=parameters["strength"], prompt="watercolour", seed=4,
                                      steps=parameters["steps"], guidance=parameters["guidance"])
    assert np.array_equal(as_bytes(image), expected)
