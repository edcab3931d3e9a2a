"""The picture ``atelier.restyle_render`` sends and its depth image line up pixel for pixel,
whatever the scene's own output settings (a cropped border, wide pixels, a compositor that
flips): both are rendered with the same whole-frame settings, put back afterwards."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from project_scenes import cube, scene_camera


def flipping_compositor(bpy, scene) -> None:
    """A compositor that mirrors the render left to right."""
    tree = bpy.data.node_groups.new("Mirror", "CompositorNodeTree")
    scene.compositing_node_group = tree
    layers = tree.nodes.new("CompositorNodeRLayers")
    tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    output = tree.nodes.new("NodeGroupOutput")
    flip = tree.nodes.new("CompositorNodeFlip")
    flip.inputs["Flip X"].default_value = True
    tree.links.new(layers.outputs["Image"], flip.inputs[0])
    tree.links.new(flip.outputs[0], output.inputs[0])
    scene.render.use_compositing = True


def output_settings(scene) -> tuple:
    render = scene.render
    return (render.use_border, render.use_crop_to_border, render.pixel_aspect_x, render.use_compositing,
            render.resolution_x, render.resolution_y, render.engine, render.image_settings.file_format)


@pytest.mark.parametrize("case", ["border_crop", "pixel_aspect", "compositor_flip"])
def test_picture_and_depth_line_up(bpy_module, addon, clean_scene, tmp_path, case):
    bpy = bpy_module
    cube(bpy, location=(1.2, 0.0, 0.4))  # off centre, so a flip or a crop moves it
    scene_camera(bpy, size=128)
    scene = bpy.context.scene
    scene.world = bpy.data.worlds.new("Black")
    scene.world.color = (0.0, 0.0, 0.0)
    if scene.world.node_tree is not None:  # a new world's Background node is grey
        scene.world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    scene.collection.objects.link(sun)
    sun.data.energy, sun.rotation_euler = 5.0, (0.6, 0.3, 0.2)
    render = scene.render
    if case == "border_crop":
        render.use_border = render.use_crop_to_border = True
        render.border_min_x, render.border_max_x = 0.1, 0.6
        render.border_min_y, render.border_max_y = 0.2, 0.7
    elif case == "pixel_aspect":
        render.pixel_aspect_x = 2.0
    else:
        flipping_compositor(bpy, scene)
    settings = output_settings(scene)
    restyle_render = addon.apply.restyle_render
    size = restyle_render.render_camera(bpy.context, tmp_path / "picture.png")
    depth_image = tmp_path / "depth.png"
    addon.apply.project_render.write_depth_control_image(bpy.context, scene.camera, *size, depth_image)
    assert output_settings(scene) == settings

    picture = np.asarray(Image.open(tmp_path / "picture.png").convert("L")) > 5
    depth = np.asarray(Image.open(depth_image).convert("L")) > 0
    assert picture.shape == depth.shape == (size[1], size[0])
    assert depth.any() and picture.any()
    overlap = np.count_nonzero(picture & depth) / np.count_nonzero(picture | depth)
    assert overlap > 0.9, overlap
