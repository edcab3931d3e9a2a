"""A projection that is cancelled or refused leaves the scene as it was: no cameras, collection,
view images or work files behind."""

import numpy as np
import pytest
from PIL import Image
from projection_helpers import module, read_png, scene_camera
from scene_state import scene_state


def _state(bpy) -> dict:
    return {**scene_state(bpy), "images": sorted(i.name for i in bpy.data.images),
            "cameras": sorted(c.name for c in bpy.data.cameras)}


def _sphere(bpy):
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_uv_sphere_add()
    return bpy.context.active_object


def _run(bpy, addon, objects, work, **changes):
    settings = {"name": "Cancelled", "views": 3, "view_size": 64, "texture_size": 64,
                "uv_maps": {obj.name: "UVMap" for obj in objects}, "work_dir": work, **changes}
    return module(addon, "apply.projection_run").ProjectionRun(bpy.context, objects, **settings)


def _save(picture: np.ndarray, path):
    Image.fromarray(np.rint(picture * 255).astype(np.uint8)).save(path)
    return path


def test_discard_midway_restores_the_scene(bpy_module, addon, tmp_path):
    sphere = _sphere(bpy_module)
    before = _state(bpy_module)
    work = tmp_path / "work"
    run = _run(bpy_module, addon, [sphere], work)
    job = run.next_view()
    run.accept(job, _save(np.full((64, 64, 3), 0.7), tmp_path / "picture.png"))
    job = run.next_view()
    assert job.index == 1
    modes = {}
    for path in (job.control_image, job.image, job.mask):
        with Image.open(path) as image:
            modes[path.name] = (image.mode, image.size)
    assert sorted(modes.values()) == [("L", (64, 64)), ("L", (64, 64)), ("RGB", (64, 64))], modes
    mask = read_png(job.mask, "L")
    assert mask.max() == 1.0 and mask.min() == 0.0  # known pixels and pixels to paint
    assert _state(bpy_module) != before  # the views are in the scene while the run lasts
    assert "Cancelled View 1" in bpy_module.data.images
    run.discard()
    assert _state(bpy_module) == before
    assert not work.exists()
    assert (tmp_path / "picture.png").exists()  # the backend's file is not the run's to remove


def test_known_pixels_come_back_from_the_texture_so_far(bpy_module, addon, tmp_path):
    sphere = _sphere(bpy_module)
    run = _run(bpy_module, addon, [sphere], tmp_path / "work", views=4)  # view 2 overlaps view 1
    run.accept(run.next_view(), _save(np.full((64, 64, 3), (0.2, 0.6, 0.4)), tmp_path / "picture.png"))
    job = run.next_view()
    known = (read_png(job.mask, "L") < 0.5) & (read_png(job.control_image, "L") > 0)
    assert known.any()
    assert np.abs(read_png(job.image)[known] - (0.2, 0.6, 0.4)).max() <= 1.5 / 255
    run.discard()


@pytest.mark.parametrize("problem, message", [
    ("nothing", "select at least one mesh"),
    ("no faces", "has no faces"),
    ("panoramic camera", "is panoramic"),
    ("wrong uv map", "no UV map 'Missing'"),
    ("odd size", "multiple of 8"),
])
def test_bad_input_is_refused_before_anything_is_added(bpy_module, addon, tmp_path, problem, message):
    bpy = bpy_module
    sphere = _sphere(bpy)
    objects, changes = [sphere], {}
    if problem == "nothing":
        objects = []
    elif problem == "no faces":
        empty = bpy.data.objects.new("Empty mesh", bpy.data.meshes.new("Empty mesh"))
        bpy.context.scene.collection.objects.link(empty)
        empty.data.uv_layers.new(name="UVMap")
        objects = [empty]
    elif problem == "panoramic camera":
        scene_camera(bpy).data.type = "PANO"
        changes = {"views": 1}
    elif problem == "wrong uv map":
        changes = {"uv_maps": {sphere.name: "Missing"}}
    else:
        changes = {"view_size": 100}
    before = _state(bpy)
    with pytest.raises(ValueError, match=message):
        _run(bpy, addon, objects, tmp_path / "work", **changes)
    assert _state(bpy) == before
    assert not (tmp_path / "work").exists()


def test_a_picture_of_the_wrong_size_is_refused(bpy_module, addon, tmp_path):
    sphere = _sphere(bpy_module)
    run = _run(bpy_module, addon, [sphere], tmp_path / "work")
    images = set(bpy_module.data.images.keys())
    job = run.next_view()
    with pytest.raises(ValueError, match="must be 64x64"):
        run.accept(job, _save(np.zeros((32, 32, 3)), tmp_path / "small.png"))
    assert set(bpy_module.data.images.keys()) == images
    run.accept(job, _save(np.zeros((64, 64, 3)), tmp_path / "right.png"))  # the view still waits
    run.discard()


def test_one_view_without_a_camera_takes_the_viewport(bpy_module, addon, tmp_path):
    sphere = _sphere(bpy_module)
    assert bpy_module.context.scene.camera is None
    views = [area.spaces.active.region_3d for area in bpy_module.context.screen.areas
             if area.type == "VIEW_3D"]
    run = _run(bpy_module, addon, [sphere], tmp_path / "work", views=1)
    camera = bpy_module.data.collections[run.collection_name].objects[0]
    expected = np.array(views[0].view_matrix.inverted())
    assert np.allclose(np.array(camera.matrix_world), expected, atol=1e-5)
    run.discard()


def test_a_view_that_sees_nothing_of_the_subject_is_skipped(bpy_module, addon, tmp_path):
    sphere = _sphere(bpy_module)
    scene_camera(bpy_module, rotation=(0, 0, 0))  # looking down -Z: the sphere is out of sight
    run = _run(bpy_module, addon, [sphere], tmp_path / "work", views=1)
    assert run.next_view() is None
    run.discard()
