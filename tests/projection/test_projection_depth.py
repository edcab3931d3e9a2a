"""The depth control image: near is bright, the background black, and the depth behind it is
the one Blender renders.

Two cubes stand at different distances from the scene camera; the nearer one must be brighter.
The numpy rasteriser's depth (used for projection) must equal Cycles' depth of the same view,
and the Cycles depth image made for restyling must leave every render setting as it was.
"""


import numpy as np
import pytest
from projection_helpers import module, read_png, scene_camera

from core import projection

SIZE = 64


def _two_cubes(bpy):
    """A near cube on the left (6 units away) and a far one on the right (14 away), with the
    scene camera looking at them along +Y."""
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_cube_add(size=1.5, location=(-1.5, -4, 0), calc_uvs=True)
    near = bpy.context.active_object
    bpy.ops.mesh.primitive_cube_add(size=1.5, location=(2.5, 4, 0), calc_uvs=True)
    far = bpy.context.active_object
    return near, far, scene_camera(bpy)


def _run(bpy, addon, objects, folder):
    return module(addon, "apply.projection_run").ProjectionRun(
        bpy.context, objects, name="Depth", views=1, view_size=SIZE, texture_size=64,
        uv_maps={obj.name: obj.data.uv_layers.active.name for obj in objects}, work_dir=folder)


def test_nearer_object_is_brighter(bpy_module, addon, tmp_path):
    near, far, _ = _two_cubes(bpy_module)
    job = _run(bpy_module, addon, [near, far], tmp_path).next_view()
    assert job.image is None and job.mask is None
    grey = read_png(job.control_image, "L")
    assert grey.shape == (SIZE, SIZE)
    left, right = grey[:, : SIZE // 2], grey[:, SIZE // 2:]
    assert (left > 0).sum() > 50 and (right > 0).sum() > 20
    near_mean, far_mean = left[left > 0].mean(), right[right > 0].mean()
    assert near_mean > far_mean + 0.3, (near_mean, far_mean)
    assert grey[0, 0] == grey[-1, -1] == 0.0  # background


@pytest.mark.parametrize("lens", ["PERSP", "ORTHO"])
def test_projection_depth_equals_cycles_depth(bpy_module, addon, tmp_path, lens):
    near, far, camera = _two_cubes(bpy_module)
    camera.data.type, camera.data.ortho_scale = lens, 9.0
    run = _run(bpy_module, addon, [near, far], tmp_path)
    run.next_view()
    ours = run._passes[0].depth
    view_camera = bpy_module.data.collections[run.collection_name].objects[0]
    # One view is the scene camera's: same pose, same lens.
    assert np.allclose(np.array(view_camera.matrix_world), np.array(camera.matrix_world), atol=1e-6)
    assert view_camera.data.type == lens
    assert abs(view_camera.data.angle - camera.data.angle) < 1e-6
    assert abs(view_camera.data.ortho_scale - camera.data.ortho_scale) < 1e-6
    cycles = module(addon, "apply.project_render").render_depth(bpy_module.context, view_camera, SIZE, SIZE)
    both = np.isfinite(ours) & np.isfinite(cycles)
    assert both.sum() > 0.9 * np.isfinite(cycles).sum()
    assert (np.isfinite(ours) != np.isfinite(cycles)).mean() < 0.01
    assert np.abs(ours[both] - cycles[both]).max() < 1e-3 * ours[both].max()


def test_restyle_depth_image_leaves_the_scene_as_it_was(bpy_module, addon, tmp_path):
    bpy = bpy_module
    near, far, camera = _two_cubes(bpy)
    scene = bpy.context.scene
    other = bpy.data.objects.new("Other", bpy.data.cameras.new("Other"))
    scene.collection.objects.link(other)
    scene.camera = other
    scene.render.engine, scene.render.resolution_x, scene.render.filepath = "BLENDER_WORKBENCH", 333, "//x"
    before = (scene.render.engine, scene.render.resolution_x, scene.render.resolution_y,
              scene.render.filepath, scene.render.image_settings.file_format, scene.camera.name,
              len(bpy.data.materials), len(bpy.data.images), bpy.context.view_layer.material_override)
    path = module(addon, "apply.project_render").write_depth_control_image(
        bpy.context, camera, 96, 64, tmp_path / "depth.png")
    after = (scene.render.engine, scene.render.resolution_x, scene.render.resolution_y,
             scene.render.filepath, scene.render.image_settings.file_format, scene.camera.name,
             len(bpy.data.materials), len(bpy.data.images), bpy.context.view_layer.material_override)
    assert after == before
    grey = read_png(path, "L")
    assert grey.shape == (64, 96)
    left, right = grey[:, :48], grey[:, 48:]
    assert left[left > 0].mean() > right[right > 0].mean() + 0.3


def test_inverse_depth_is_one_over_depth_scaled_from_nearest_to_farthest():
    depth = np.array([[2.0, 4.0, np.inf], [8.0, 3.0, np.inf]])
    grey = projection.inverse_depth(depth)
    inverse = 1 / depth[np.isfinite(depth)]
    share = (inverse - 1 / 8) / (1 / 2 - 1 / 8)  # 1 at the nearest (2), 0 at the farthest (8)
    expected = projection.FARTHEST_GREY + (projection.NEAREST_GREY - projection.FARTHEST_GREY) * share
    assert np.allclose(grey[np.isfinite(depth)], expected)
    assert grey[0, 1] == pytest.approx(0.15 + 0.85 * (0.25 - 0.125) / 0.375)  # 4 units: a third up
    assert (grey[~np.isfinite(depth)] == 0).all()
    assert (projection.inverse_depth(np.full((2, 2), 5.0)) == projection.NEAREST_GREY).all()
    assert (projection.inverse_depth(np.full((2, 2), np.inf)) == 0).all()


def test_the_depth_render_ignores_border_multiview_blur_and_pixel_aspect(bpy_module, addon):
    """A render border, stereo views, motion blur and wide pixels would each change what the
    depth render draws; it draws the whole frame once, and they are the scene's again after."""
    bpy = bpy_module
    _, _, camera = _two_cubes(bpy)
    render = module(addon, "apply.project_render")
    plain = render.render_depth(bpy.context, camera, SIZE, SIZE)
    settings = bpy.context.scene.render
    changes = {"use_border": True, "border_min_x": 0.0, "border_max_x": 0.5, "use_multiview": True,
               "use_motion_blur": True, "pixel_aspect_x": 2.0}
    for name, value in changes.items():
        setattr(settings, name, value)
    depth = render.render_depth(bpy.context, camera, SIZE, SIZE)
    assert {name: getattr(settings, name) for name in changes} == changes
    assert np.array_equal(np.isfinite(depth), np.isfinite(plain))
    assert np.allclose(depth[np.isfinite(depth)], plain[np.isfinite(plain)], rtol=1e-4)
