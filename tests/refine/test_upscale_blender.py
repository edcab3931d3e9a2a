"""``atelier.upscale_texture`` in real Blender with the real backend and the tiny SD model: the
material shows a picture twice (or four times) the size; a seamless picture is upscaled as one."""

import json

from blender_maps import image_from_array, picture_material, read_pixels
from refine_scenes import SIZE, edit_state, seam_jump
from seams import tiling_noise


def test_upscale_doubles_the_picture_on_the_material(bpy_module, picture_scene, backend_env, quick_style):
    bpy = bpy_module
    _, material, old = picture_scene
    bpy.ops.ed.undo_push(message="init")
    before = edit_state(bpy)
    assert bpy.ops.atelier.upscale_texture("EXEC_DEFAULT", True, factor=2, prompt="planks", seed=9,
                                           style=quick_style) == {"FINISHED"}
    node = next(n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage")
    new = node.image
    assert new.name == "Picture v2" and tuple(new.size) == (2 * SIZE, 2 * SIZE)
    record = json.loads(new["atelier_provenance"])
    assert record["task"] == "upscale" and record["parameters"]["seamless"] == "off"
    entry = bpy.context.scene.atelier.history[-1]
    assert (entry.kind, entry.previous_image) == ("UPSCALE", old)
    assert (entry.width, entry.height) == (2 * SIZE, 2 * SIZE)
    assert read_pixels(new)[..., :3].std() > 0.01
    bpy.ops.ed.undo()
    assert edit_state(bpy) == before


def test_a_seamless_picture_is_upscaled_seamless(bpy_module, clean_scene, backend_env, quick_style):
    """The picture's Atelier record says it tiles: the upscale wraps around its edges."""
    bpy = bpy_module
    image = image_from_array(bpy, tiling_noise((SIZE, SIZE)), "Tiles")
    image["atelier_seamless"] = "xy"
    picture_material(bpy, image, name="Tiles")
    assert bpy.ops.atelier.upscale_texture(image="Tiles", style=quick_style, seed=3) == {"FINISHED"}
    new = bpy.data.images["Tiles v2"]
    assert json.loads(new["atelier_provenance"])["parameters"]["seamless"] == "xy"
    pixels = read_pixels(new)[..., :3]
    jumps = seam_jump(pixels, 1), seam_jump(pixels, 0)
    assert max(jumps) < 2, jumps
    assert bpy.data.materials["Tiles"].node_tree.nodes["Image Texture"].image.name == "Tiles v2"
