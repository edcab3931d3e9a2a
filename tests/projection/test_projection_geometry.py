"""Projection puts each view's picture where that view saw it.

Known pictures (crossed colour stripes, no model) are projected from 4 views onto a sphere and
a cube seen together and baked; Cycles then re-renders the baked textures (emission, so colours
pass as they are) from each view camera. Where a view dominates the texture, the render must
match the picture that view sent. The same render from a camera turned 5 degrees off, or with
its picture moved by one pixel, must fail the bound, so the bound tells a right projection from
one that is a pixel wrong.
"""

import numpy as np
import pytest
from projection_helpers import (
    crossed_stripes,
    emission_material,
    module,
    paint_views,
    remove_camera,
    render_view,
    shifted,
    turned,
    view_share,
)

VIEW_SIZE, TEXTURE_SIZE = 96, 256
BOUND = 0.025  # mean absolute difference, 0..1, over the pixels where the view dominates
DOMINANT_SHARE = 0.5  # a pixel is the view's when at least this share of its colour is from it
MIN_REGION = 0.3  # of the subject's pixels in the view: the check must cover at least this much


@pytest.fixture(scope="module")
def projected(bpy_module, addon, tmp_path_factory):
    """A UV sphere and a cube beside it painted from 4 views with known crossed stripes."""
    bpy = bpy_module
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_uv_sphere_add(radius=1.0, location=(-0.6, 0, 0))
    sphere = bpy.context.active_object
    bpy.ops.mesh.primitive_cube_add(size=1.2, location=(1.3, 0.2, 0.1), calc_uvs=True)
    cube = bpy.context.active_object
    objects = [sphere, cube]
    folder = tmp_path_factory.mktemp("geometry")
    run = module(addon, "apply.projection_run").ProjectionRun(
        bpy.context, objects, name="Stripes", views=4, view_size=VIEW_SIZE, texture_size=TEXTURE_SIZE,
        uv_maps={obj.name: obj.data.uv_layers.active.name for obj in objects}, work_dir=folder / "work")
    sent = paint_views(run, folder, lambda job: crossed_stripes(VIEW_SIZE, job.index))
    textures = run.finish()
    for obj in objects:
        emission_material(bpy, obj, textures[obj.name][0], obj.data.uv_layers.active.name)
    collection = bpy.data.collections[run.collection_name]
    return run, sent, sorted(collection.objects, key=lambda camera: camera.name), folder


def test_every_view_is_painted_and_kept(bpy_module, projected):
    run, sent, cameras, _ = projected
    assert sorted(sent) == [0, 1, 2, 3]
    assert [camera.name for camera in cameras] == ["View 1", "View 2", "View 3", "View 4"]
    collection = bpy_module.data.collections[run.collection_name]
    assert run.collection_name == "Stripes" and collection.hide_viewport and collection.hide_render
    assert all(f"Stripes {camera.name}" in bpy_module.data.images for camera in cameras)


def _error_from(bpy, camera, picture, region, path) -> float:
    rendered, covered = render_view(bpy, camera, VIEW_SIZE, path)
    return float(np.abs(rendered - picture)[region & covered].mean())


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_rerender_matches_each_view_where_it_dominates(bpy_module, projected, index):
    run, sent, cameras, folder = projected
    share, subject = view_share(run, index)
    region = share >= DOMINANT_SHARE
    assert region.sum() >= MIN_REGION * subject.sum(), (
        f"view {index + 1} dominates only {region.sum()} of its {subject.sum()} subject pixels")

    rendered, covered = render_view(bpy_module, cameras[index], VIEW_SIZE, folder / f"render-{index}.png")
    assert covered[region].all(), "the re-render misses pixels the view saw"
    error = float(np.abs(rendered - sent[index])[region].mean())
    assert error <= BOUND, f"view {index + 1}: mean difference {error:.4f} over {region.sum()} pixels"

    for name, wrong_camera in (("turned 5 degrees", turned(bpy_module, cameras[index], 5.0)),
                               ("moved 1 pixel", shifted(bpy_module, cameras[index], 1.0, VIEW_SIZE))):
        try:
            wrong = _error_from(bpy_module, wrong_camera, sent[index], region, folder / f"off-{index}.png")
        finally:
            remove_camera(bpy_module, wrong_camera)
        assert wrong > BOUND, f"a camera {name} passes the bound ({wrong:.4f} <= {BOUND})"
