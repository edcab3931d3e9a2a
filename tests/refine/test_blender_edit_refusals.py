"""Refine, inpaint and upscale refuse bad input with a clear error and leave the scene as it was:
each is caught in Blender before anything is sent, or by the backend, which serves on."""

import json

import numpy as np
import pytest
from blender_helpers import operator_refusal
from blender_maps import image_from_array, picture_material, stripes
from refine_scenes import SIZE, edit_state, mask_image, square_mask


def refusal(bpy, operator: str, **kwargs) -> str:
    """Call ``operator`` expecting a refusal; the error it reports (the scene checked unchanged)."""
    return operator_refusal(bpy, edit_state, operator, **kwargs)


@pytest.mark.parametrize(("operator", "kwargs", "expected"), [
    ("refine_texture", {"strength": 0.0}, "strength must be above 0 and at most 1"),
    ("refine_texture", {"strength": 1.5}, "strength must be above 0 and at most 1"),
    ("inpaint_texture", {"mask": "Mask", "strength": 0.0}, "strength must be above 0 and at most 1"),
    ("inpaint_texture", {"mask": "Mask", "strength": 1.5}, "strength must be above 0 and at most 1"),
    ("refine_texture", {"strength": 1e-12}, "denoising steps, above the limit of"),
    ("inpaint_texture", {"mask": "Mask", "strength": 1e-12}, "denoising steps, above the limit of"),
    ("refine_texture", {"steps": -1}, "steps cannot be negative"),
    ("refine_texture", {"seed": -2}, "seed -2 is out of range"),
    ("upscale_texture", {"factor": 3}, "factor 3 is not supported; use 2 or 4"),
    ("refine_texture", {"material": "Nothing"}, "there is no material named 'Nothing'"),
    ("inpaint_texture", {"image": "Nothing", "mask": "Mask"}, "there is no image named 'Nothing'"),
    ("inpaint_texture", {"mask": "Nothing"}, "there is no image named 'Nothing' for the mask"),
    ("refine_texture", {"style": "no-such-style"}, "no-such-style"),
    ("upscale_texture", {"style": "no-such-style"}, "no-such-style"),
    ("refine_texture", {"model": "builtin"}, "the built-in engine cannot make new versions"),
])
def test_settings_refused_before_sending(bpy_module, picture_scene, backend_env, operator, kwargs, expected):
    bpy = bpy_module
    mask_image(bpy, square_mask())
    assert expected in refusal(bpy, operator, **kwargs)


@pytest.mark.parametrize(("mask", "expected"), [
    (np.zeros((SIZE, SIZE), np.float32), "the mask is empty: nothing to repaint — paint white where"),
    (np.ones((SIZE, SIZE), np.float32), "the mask covers the whole image — use refine_texture"),
    (np.zeros((SIZE, SIZE // 2), np.float32), "the mask is 32x64 pixels but the image is 64x64"),
])
def test_masks_that_cannot_work_are_refused(bpy_module, picture_scene, backend_env, mask, expected):
    bpy = bpy_module
    mask_image(bpy, mask)
    assert expected in refusal(bpy, "inpaint_texture", mask="Mask")


def test_a_full_mask_is_refused_with_seam_fix_too(bpy_module, picture_scene, backend_env):
    bpy = bpy_module
    mask_image(bpy, np.ones((SIZE, SIZE), np.float32))
    assert "covers the whole image" in refusal(bpy, "inpaint_texture", mask="Mask", seam_fix=True)


def test_no_mask_and_no_alpha_says_to_paint_one(bpy_module, picture_scene, backend_env):
    message = refusal(bpy_module, "inpaint_texture")
    assert "has no alpha channel" in message and "paint a mask image" in message


def test_a_material_without_a_picture(bpy_module, clean_scene, backend_env):
    bpy = bpy_module
    bpy.ops.mesh.primitive_plane_add()
    plain = bpy.data.materials.new("Plain")
    if bpy.app.version < (5, 0, 0):
        plain.use_nodes = True
    bpy.context.active_object.data.materials.append(plain)
    for operator in ("refine_texture", "inpaint_texture", "upscale_texture"):
        assert "has no image on its Base Color" in refusal(bpy, operator)


def test_a_picture_too_small_to_edit_is_named(bpy_module, clean_scene, backend_env):
    """Named as the artist knows it, not as the file it would be sent as."""
    bpy = bpy_module
    picture_material(bpy, image_from_array(bpy, stripes(8, 8), "tiny"))
    for operator in ("refine_texture", "inpaint_texture", "upscale_texture"):
        assert "the image 'tiny' is 8x8 pixels; it must be at least 64x64" in refusal(bpy, operator)


def test_nothing_selected(bpy_module, clean_scene, backend_env):
    assert "select an object with a material" in refusal(bpy_module, "refine_texture")
    assert "select an object whose material shows a picture" in refusal(bpy_module, "upscale_texture")


def test_an_upscale_beyond_the_size_limit(bpy_module, picture_scene, backend_env, monkeypatch):
    monkeypatch.setenv("ATELIER_MAX_UPSCALE_SIZE", str(SIZE * 2))
    message = refusal(bpy_module, "upscale_texture", factor=4)
    assert "would be 256x256 pixels; the most is 128 per side" in message


def test_a_backend_error_leaves_the_scene_and_the_backend_serves_on(bpy_module, picture_scene, backend_env,
                                                                      tmp_path):
    bpy = bpy_module
    message = refusal(bpy, "refine_texture", model=str(tmp_path / "no-model"), steps=2)
    assert "no-model" in message
    assert bpy.ops.atelier.refine_texture(steps=2, seed=1) == {"FINISHED"}


def test_a_result_that_cannot_be_put_on_changes_nothing(bpy_module, addon, picture_scene, backend_env,
                                                        tmp_path):
    """``put_new_version`` undoes all it did: an unreadable file, a material that no longer
    shows the picture (changed while the job ran)."""
    bpy = bpy_module
    versions = addon.apply.image_version
    _, material, old = picture_scene
    assert bpy.ops.atelier.refine_texture(steps=2, seed=2) == {"FINISHED"}
    record = json.loads(bpy.data.images["Picture v2"]["atelier_provenance"])
    current = bpy.data.images["Picture v2"]
    version = versions.Version(kind="REFINE", parameters=addon.apply.texture.TextureParameters(prompt="x"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    before = edit_state(bpy)
    for args, expected in [((material, current, broken), "cannot read"),
                           ((material, old, broken), "no longer shows the image 'Picture'")]:
        with pytest.raises(addon.client.session.ApplyError, match=expected):
            versions.put_new_version(bpy.context.scene, [args[0]], args[1], args[2], record, version, "PACK")
        assert edit_state(bpy) == before
