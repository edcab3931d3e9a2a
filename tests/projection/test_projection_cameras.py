"""The views are the cameras they claim to be: the scene camera with its shift, sensor fit and
clip range, a surface reaching behind it, and the 3D viewport in perspective and orthographic.
Each is checked against what Blender itself draws or renders from the same camera."""

import math

import numpy as np
import pytest
from projection_helpers import module, scene_camera

SIZE = 64


def _run(bpy, addon, objects, folder, **changes):
    settings = {"name": "Cameras", "views": 1, "view_size": SIZE, "texture_size": 64,
                "uv_maps": {obj.name: obj.data.uv_layers.active.name for obj in objects},
                "work_dir": folder, **changes}
    return module(addon, "apply.projection_run").ProjectionRun(bpy.context, objects, **settings)


def _same_depth(ours: np.ndarray, cycles: np.ndarray) -> None:
    """The projection's depth pass is Cycles' depth of the same camera: the same pixels, the
    same distances."""
    both = np.isfinite(ours) & np.isfinite(cycles)
    assert np.isfinite(cycles).sum() > 100
    assert (np.isfinite(ours) != np.isfinite(cycles)).mean() < 0.01
    assert np.abs(ours[both] - cycles[both]).max() < 1e-3 * ours[both].max()


def test_a_floor_reaching_behind_the_camera_is_cut_at_the_near_plane(bpy_module, addon, tmp_path):
    bpy = bpy_module
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_plane_add(size=20, calc_uvs=True)  # two triangles, behind and ahead
    floor = bpy.context.active_object
    camera = scene_camera(bpy, location=(0, -2, 1.5), rotation=(math.radians(55), 0, 0))
    run = _run(bpy, addon, [floor], tmp_path / "work")
    job = run.next_view()
    assert job is not None, "the view of a floor filling the frame was skipped"
    cycles = module(addon, "apply.project_render").render_depth(bpy.context, camera, SIZE, SIZE)
    _same_depth(run._passes[0].depth, cycles)
    uv = run._passes[0].uv[np.isfinite(cycles)]
    assert 0.3 < uv[:, 0].min() < uv[:, 0].max() < 0.7  # the UVs of the cut triangles follow them
    run.discard()


@pytest.mark.parametrize("fit, width, height", [("VERTICAL", 1920, 1080), ("HORIZONTAL", 1080, 1920)])
def test_the_scene_camera_shift_fit_and_clip_are_followed(bpy_module, addon, tmp_path, fit, width, height):
    """The square view holds the whole frame the scene camera renders (here the sensor fits the
    frame's shorter side, so a square render of the camera would crop it), moved by its shift,
    clipped by its clip range: inside the frame it is Cycles' render of that camera."""
    bpy = bpy_module
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_cube_add(size=1.5, location=(-1.0, -4, 0), calc_uvs=True)
    near = bpy.context.active_object
    bpy.ops.mesh.primitive_cube_add(size=1.5, location=(1.5, 4, 0.5), calc_uvs=True)
    far = bpy.context.active_object  # 14 units away: beyond the camera's clip end
    camera = scene_camera(bpy)
    data = camera.data
    data.shift_x, data.shift_y = 0.2, -0.1
    data.sensor_fit, data.sensor_width, data.sensor_height = fit, 36.0, 18.0
    data.clip_start, data.clip_end = 0.5, 10.0
    bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y = width, height
    run = _run(bpy, addon, [near, far], tmp_path / "work")
    run.next_view()
    ours = run._passes[0].depth
    assert not (run._passes[0].object_index == 1).any()  # the far cube lies past the clip end
    frame = (SIZE * min(width, height) // max(width, height))  # the frame's shorter side, pixels
    margin = (SIZE - frame) // 2
    render = module(addon, "apply.project_render")
    if width > height:
        inside = ours[margin:margin + frame]
        cycles = render.render_depth(bpy.context, camera, SIZE, frame)
    else:
        inside = ours[:, margin:margin + frame]
        cycles = render.render_depth(bpy.context, camera, frame, SIZE)
    _same_depth(inside, cycles)
    view = bpy.data.collections[run.collection_name].objects[0]
    assert (view.data.clip_start, view.data.clip_end) == pytest.approx((0.5, 10.0))
    _same_depth(ours, render.render_depth(bpy.context, view, SIZE, SIZE))  # the kept camera shows it


def _viewport(bpy, addon):
    views = module(addon, "apply.project_views")
    viewport = views.viewport_view(bpy.context)
    assert viewport is not None and viewport.region is not None
    return views, viewport, viewport.area.spaces.active


def test_the_perspective_viewport_is_framed_as_blender_draws_it(bpy_module, addon):
    bpy_module.ops.wm.read_homefile(use_empty=True)
    _, viewport, space = _viewport(bpy_module, addon)
    view = space.region_3d
    assert viewport.perspective and not viewport.through_camera
    camera = viewport.view_camera(SIZE)
    # Points in front of the view, through Blender's own drawing matrices and through ours.
    rng = np.random.default_rng(1)
    local = np.c_[rng.uniform(-1, 1, (50, 2)), -rng.uniform(2, 20, 50)]
    points = local @ viewport.matrix[:3, :3].T + viewport.matrix[:3, 3]
    clip = np.c_[points, np.ones(50)] @ (np.array(view.window_matrix) @ np.array(view.view_matrix)).T
    ndc = clip[:, :2] / clip[:, 3:]
    width, height = viewport.region.width, viewport.region.height
    x, y, _ = camera.project(points)
    longer = max(width, height)  # the square spans the region's longer side
    assert np.allclose((x / SIZE - 0.5) * 2 * longer / width, ndc[:, 0], atol=1e-4)
    assert np.allclose((0.5 - y / SIZE) * 2 * longer / height, ndc[:, 1], atol=1e-4)


def test_the_orthographic_viewport_shows_what_the_perspective_one_shows_at_its_distance(
        bpy_module, addon):
    """Blender switches a view between perspective and orthographic keeping the width it shows
    at the view's distance (the pivot keeps its size on screen)."""
    bpy_module.ops.wm.read_homefile(use_empty=True)
    views, perspective, space = _viewport(bpy_module, addon)
    space.lens = 35.0
    perspective = views.viewport_view(bpy_module.context)
    space.region_3d.view_perspective = "ORTHO"
    try:
        ortho = views.viewport_view(bpy_module.context)
    finally:
        space.region_3d.view_perspective = "PERSP"
    distance = space.region_3d.view_distance
    assert not ortho.perspective
    assert ortho.ortho_scale == pytest.approx(2 * distance * math.tan(perspective.fov / 2))
    # Set back so it sees what lies behind the view's point too; same axes, same picture.
    assert np.allclose(ortho.matrix[:3, :3], perspective.matrix[:3, :3])
    pivot = perspective.matrix[:3, 3] - distance * perspective.matrix[:3, 2]
    x, y, depth = ortho.view_camera(SIZE).project(pivot[None])
    assert (x[0], y[0]) == pytest.approx((SIZE / 2, SIZE / 2))
    assert ortho.clip_start < depth[0] - space.clip_end / 2 + 1e-3 and depth[0] < ortho.clip_end


def test_one_view_takes_the_orthographic_viewport(bpy_module, addon, tmp_path):
    bpy = bpy_module
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_uv_sphere_add()
    sphere = bpy.context.active_object
    views, _, space = _viewport(bpy, addon)
    space.region_3d.view_perspective = "ORTHO"
    try:
        run = _run(bpy, addon, [sphere], tmp_path / "work")
        expected = views.viewport_view(bpy.context)
    finally:
        space.region_3d.view_perspective = "PERSP"
    data = bpy.data.collections[run.collection_name].objects[0].data
    assert data.type == "ORTHO" and data.ortho_scale == pytest.approx(expected.ortho_scale)
    run.discard()


def test_view_images_keep_the_camera_name_after_a_long_result_name(addon):
    views = module(addon, "apply.project_views")
    long = "weathered bronze statue of a lion with green patina and fine engraved détails"
    name = views.view_image_name(long, "View 12")
    assert name.endswith(" View 12") and len(name.encode("utf-8")) <= 63
    assert name.startswith("weathered bronze statue")
    accents = views.view_image_name("é" * 40, "View 3")  # 80 bytes: cut between characters
    assert accents.endswith(" View 3") and set(accents[:-7]) == {"é"}
    assert len(accents.encode("utf-8")) <= 63
    assert views.view_image_name("Short", "View 1") == "Short View 1"
