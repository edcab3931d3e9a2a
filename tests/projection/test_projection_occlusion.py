"""A part hidden behind another object does not take that object's colours.

A small cube stands in front of a wall, seen head-on by the scene camera (one view). The view's
picture is red where the cube is and blue elsewhere. The wall's texels behind the cube are not
seen: they must come out blue (filled from the wall around them), never red. With the depth test
switched off (the broken variant) they take the cube's red, and the same check fails.
"""

import math

import numpy as np
import pytest
from projection_helpers import module, paint_views, scene_camera

VIEW_SIZE, TEXTURE_SIZE = 64, 128
CAMERA_DISTANCE, CUBE_Y = 10.0, -1.0  # the wall stands at y = 2
MOST_RED = 0.25  # mean red allowed behind the cube (the picture's cube is 0.9 red)


def _wall(bpy):
    """A 4 x 4 wall at y = 2 facing -Y, its UVs running with x (u) and z (v)."""
    mesh = bpy.data.meshes.new("Wall")
    mesh.from_pydata([(-2, 2, -2), (2, 2, -2), (2, 2, 2), (-2, 2, 2)], [], [(0, 1, 2, 3)])
    layer = mesh.uv_layers.new(name="UVMap")
    layer.uv.foreach_set("vector", np.array([(0, 0), (1, 0), (1, 1), (0, 1)], dtype=np.float32).ravel())
    wall = bpy.data.objects.new("Wall", mesh)
    bpy.context.scene.collection.objects.link(wall)
    return wall


def _picture(camera_data) -> np.ndarray:
    """Red over the cube's near face as the camera sees it, blue elsewhere."""
    near_face = CAMERA_DISTANCE - abs(CUBE_Y) - 0.5
    half = 0.5 / near_face / math.tan(camera_data.angle / 2) * VIEW_SIZE / 2
    centre = np.arange(VIEW_SIZE) + 0.5 - VIEW_SIZE / 2
    inside = (np.abs(centre)[:, None] <= half) & (np.abs(centre)[None, :] <= half)
    return np.where(inside[..., None], (0.9, 0.1, 0.1), (0.1, 0.1, 0.9))


def _project(bpy, addon, folder):
    bpy.ops.wm.read_homefile(use_empty=True)
    wall = _wall(bpy)
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0, CUBE_Y, 0), calc_uvs=True)
    cube = bpy.context.active_object
    camera = scene_camera(bpy, location=(0, -CAMERA_DISTANCE, 0))
    objects = [wall, cube]
    run = module(addon, "apply.projection_run").ProjectionRun(
        bpy.context, objects, name="Occlusion", views=1, view_size=VIEW_SIZE, texture_size=TEXTURE_SIZE,
        uv_maps={obj.name: obj.data.uv_layers.active.name for obj in objects}, work_dir=folder / "work")
    paint_views(run, folder, lambda job: _picture(camera.data))
    return run.finish()


def _behind_cube(texture: np.ndarray) -> np.ndarray:
    """The wall's texels surely hidden by the cube: u and v in 0.35..0.65 (the shadow reaches
    0.5 +- 0.18 from the camera's distance)."""
    low, high = int(0.35 * TEXTURE_SIZE), int(0.65 * TEXTURE_SIZE)
    return texture[low:high, low:high, :3]


def test_hidden_wall_keeps_its_own_colour(bpy_module, addon, tmp_path):
    textures = _project(bpy_module, addon, tmp_path)
    wall, unseen = textures["Wall"]
    hidden = _behind_cube(wall)
    assert hidden[..., 0].mean() <= MOST_RED, f"the wall behind the cube took red: {hidden.mean((0, 1))}"
    assert hidden[..., 2].mean() > 0.6
    # Unseen: the hidden square (about 1.41 of the wall's 4 units a side, 12%) and the pixel
    # rings on depth edges (around the cube and the wall's own outline) at this small size.
    assert 0.12 < unseen < 0.35, unseen
    cube, _ = textures["Cube"]
    assert cube[..., 0].max() > 0.8  # the cube's own front face took the red


def test_without_depth_test_the_check_fails(bpy_module, addon, tmp_path, monkeypatch):
    projection = module(addon, "core.projection")
    real = projection.view_weights

    def no_depth_test(camera, points, normals, depth, edges):
        return real(camera, points, normals, np.full_like(depth, np.inf), np.zeros_like(edges))

    monkeypatch.setattr(projection, "view_weights", no_depth_test)
    wall, _ = _project(bpy_module, addon, tmp_path)["Wall"]
    with pytest.raises(AssertionError):
        assert _behind_cube(wall)[..., 0].mean() <= MOST_RED
