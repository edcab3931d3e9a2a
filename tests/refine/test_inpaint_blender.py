"""``atelier.inpaint_texture`` in real Blender with the real backend and the tiny SD model: a
mask painted as an image or the picture's transparency says what to repaint; everything else
stays exactly as it was; ``seam_fix`` makes a picture that did not tile, tile."""

import json

import numpy as np
import pytest
from blender_maps import image_from_array, picture_material, read_pixels
from refine_scenes import SIZE, edit_state, mask_image, seam_jump, square_mask
from seams import seam_ratio

INPAINT = dict(prompt="a brass plate", seed=8, style="quick")


def shown_image(material):
    return next(n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage").image


def test_outside_a_painted_mask_the_pixels_stay_exactly(bpy_module, picture_scene, backend_env, quick_style):
    bpy = bpy_module
    _, material, old = picture_scene
    mask = square_mask()
    mask_image(bpy, mask)
    assert bpy.ops.atelier.inpaint_texture(mask="Mask", **INPAINT) == {"FINISHED"}

    new = shown_image(material)
    assert new.name == "Picture v2" and tuple(new.size) == (SIZE, SIZE)
    before, after = read_pixels(old)[..., :3], read_pixels(new)[..., :3]
    outside = mask == 0
    assert np.array_equal(after[outside], before[outside])  # 8-bit: bit for bit
    assert np.abs(after[~outside] - before[~outside]).max() > 0.05  # the square was repainted
    entry = bpy.context.scene.atelier.history[-1]
    assert (entry.kind, entry.previous_image, entry.strength) == ("INPAINT", old, 1.0)
    assert json.loads(new["atelier_provenance"])["task"] == "inpaint"


def test_a_mask_of_another_size_with_the_same_shape_is_resampled(bpy_module, picture_scene, backend_env,
                                                                  quick_style):
    bpy = bpy_module
    _, material, old = picture_scene
    mask_image(bpy, square_mask(SIZE // 2, 8, 20))  # the same square at half the size
    assert bpy.ops.atelier.inpaint_texture(mask="Mask", **INPAINT) == {"FINISHED"}
    before, after = read_pixels(old)[..., :3], read_pixels(shown_image(material))[..., :3]
    far = np.ones((SIZE, SIZE), bool)
    far[12:44, 12:44] = False  # outside the square and its resampled edge
    assert np.array_equal(after[far], before[far])
    assert not np.array_equal(after[20:36, 20:36], before[20:36, 20:36])


def test_a_mask_painted_with_alpha_counts_by_its_colour(bpy_module, picture_scene, backend_env, quick_style):
    """A mask image whose paint is half transparent still repaints where it is white."""
    bpy = bpy_module
    _, material, old = picture_scene
    mask = square_mask()
    mask_image(bpy, mask, alpha=0.5)
    assert bpy.ops.atelier.inpaint_texture(mask="Mask", **INPAINT) == {"FINISHED"}
    before, after = read_pixels(old)[..., :3], read_pixels(shown_image(material))[..., :3]
    assert np.array_equal(after[mask == 0], before[mask == 0])
    assert not np.array_equal(after[mask == 1], before[mask == 1])


def test_without_a_mask_the_transparent_part_is_repainted(bpy_module, clean_scene, backend_env, quick_style):
    bpy = bpy_module
    rgba = np.ones((SIZE, SIZE, 4), dtype=np.float32)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = x / SIZE, y / SIZE, 0.4
    hole = square_mask() == 1
    rgba[hole, 3] = 0.0  # erased, as Texture Paint's Erase Alpha leaves it
    image = bpy.data.images.new("Holes", SIZE, SIZE, alpha=True)
    image.pixels.foreach_set(rgba[::-1].ravel())
    image.pack()
    _, material = picture_material(bpy, image, name="Holes")
    before = read_pixels(image)
    assert bpy.ops.atelier.inpaint_texture(**INPAINT) == {"FINISHED"}
    after = read_pixels(shown_image(material))
    assert np.array_equal(after[~hole, :3], before[~hole, :3])
    assert after[hole, 3].min() == 1.0  # the hole is painted in, opaque


def test_seam_fix_makes_a_picture_tile(bpy_module, clean_scene, backend_env, quick_style):
    bpy = bpy_module
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    ramps = np.stack([x / SIZE, y / SIZE, 0.5 + 0.2 * np.sin(x / 5)], axis=-1)  # jumps at both seams
    image = image_from_array(bpy, ramps, "Ramps")
    _, material = picture_material(bpy, image, name="Ramps")
    before = read_pixels(image)[..., :3]
    assert min(seam_ratio(before, 1), seam_ratio(before, 0)) > 20  # far from tiling
    assert min(seam_jump(before, 1), seam_jump(before, 0)) > 10
    assert bpy.ops.atelier.inpaint_texture(seam_fix=True, **INPAINT) == {"FINISHED"}
    after = read_pixels(shown_image(material))[..., :3]
    jumps = seam_jump(after, 1), seam_jump(after, 0)
    assert max(jumps) < 2, jumps
    # Only the band along the edges was repainted; the middle is the picture as it was.
    assert np.array_equal(after[16:48, 16:48], before[16:48, 16:48])
    # Recorded as tiling both ways, so an upscale of it wraps around its edges.
    assert shown_image(material)["atelier_seamless"] == "xy"


@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_strength_reaches_the_backend(bpy_module, picture_scene, backend_env, quick_style, strength):
    bpy = bpy_module
    mask_image(bpy, square_mask())
    bpy.ops.ed.undo_push(message="init")
    before = edit_state(bpy)
    assert bpy.ops.atelier.inpaint_texture("EXEC_DEFAULT", True, mask="Mask", strength=strength,
                                           **INPAINT) == {"FINISHED"}
    record = json.loads(bpy.data.images["Picture v2"]["atelier_provenance"])
    assert record["parameters"]["strength"] == strength
    assert record["parameters"]["steps"] == 2 and record["parameters"]["style"] == "quick"
    bpy.ops.ed.undo()
    assert edit_state(bpy) == before


def test_a_deep_picture_keeps_its_depth_and_its_pixels(bpy_module, clean_scene, backend_env, quick_style):
    """A float picture with a transparent hole goes as a 16-bit RGBA PNG; the new version is
    float and outside the hole holds the same colours (to 16-bit precision)."""
    bpy = bpy_module
    rgba = np.ones((SIZE, SIZE, 4), dtype=np.float32)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = x / SIZE, y / SIZE, 0.25
    hole = square_mask() == 1
    rgba[hole, 3] = 0.0
    image = bpy.data.images.new("Deep", SIZE, SIZE, alpha=True, float_buffer=True)
    image.pixels.foreach_set(rgba[::-1].ravel())
    _, material = picture_material(bpy, image, name="Deep")
    assert bpy.ops.atelier.inpaint_texture(**INPAINT) == {"FINISHED"}
    new = shown_image(material)
    assert new.name == "Deep v2" and new.is_float
    after = read_pixels(new)
    assert np.abs(after[~hole, :3] - rgba[~hole, :3]).max() < 1e-3
    assert np.abs(after[hole, :3] - rgba[hole, :3]).max() > 0.05
