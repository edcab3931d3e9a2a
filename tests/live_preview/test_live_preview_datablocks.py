"""The live preview's datablocks: one Image however many previews arrive, the object's slots put
back exactly on stop, and never a trace of the preview in a saved file."""

import dataclasses

import numpy as np
import pytest
from blender_helpers import drain_until, image_pixels, mesh_object

PREVIEW = "Atelier Preview"


@pytest.fixture
def real_result(bpy_module, addon, live, settings, backend_env):
    """One real preview result from the backend (its folder released), to copy with other pixels."""
    jobs = addon.client.session
    settings.prompt, settings.seed = "green moss", 5
    client = jobs.client_for(addon.preferences.backend_config(jobs.EXTENSION_DIR))
    job = jobs.submit(client, live.preview_request(settings, size=64))
    drain_until(jobs, client, lambda: job.done, what="a preview")
    assert job.error is None, job.error
    jobs.release(job.id)
    return job.result


def rgba_file(folder, index, width, height):
    """A raw rgba8 file (top row first) of seeded noise; returns its path and its pixels."""
    pixels = np.random.default_rng(index).integers(0, 256, (height, width, 4), dtype=np.uint8)
    path = folder / f"preview-{index}.rgba"
    path.write_bytes(pixels.tobytes())
    return path, pixels


def counts(bpy):
    return {name: len(getattr(bpy.data, name)) for name in
            ("images", "materials", "textures", "node_groups", "meshes", "objects")}


def slots(obj):
    """Every slot's link and both its materials (the mesh's and the object's own), the mesh's list."""
    state = []
    for slot in obj.material_slots:
        link = slot.link
        slot.link = "DATA"
        data = slot.material
        slot.link = "OBJECT"
        own = slot.material
        slot.link = link
        state.append((link, data and data.name, own and own.name))
    return state, [m and m.name for m in obj.data.materials], obj.active_material_index


def finished_preview(addon, live, sent, result):
    """A preview job that has ended with ``result``, where ``tick`` finds the jobs it sent
    (``sent``: when it went out), as if the backend had answered meanwhile."""
    jobs, protocol = addon.client.session, addon.core.protocol
    request = protocol.TextureRequest(id=result.id, prompt="moss", preview=True)
    job = jobs.Job(request=request, result=result)
    live._live.jobs[job.id], live._live.order[job.id] = job, sent
    live._live.sent = max(live._live.sent, sent + 1)


def test_a_thousand_previews_through_the_tick_reuse_one_image(bpy_module, addon, live, settings,
                                                              real_result, tmp_path):
    bpy, display = bpy_module, addon.apply.live_preview
    mesh_object(bpy)
    settings.prompt = ""
    live.start(bpy.context)  # an empty prompt: the results below are the only ones
    path, _ = rgba_file(tmp_path, 0, 64, 64)
    finished_preview(addon, live, 0, dataclasses.replace(real_result, id="r0", pixels=path))
    assert live.tick() == live.TICK_INTERVAL and display.is_shown()
    before = counts(bpy)
    for index in range(1, 1001):
        width = 128 if index % 100 == 50 else 64  # a size change now and then: the Image is scaled
        path, pixels = rgba_file(tmp_path, index, width, 64)
        finished_preview(addon, live, index, dataclasses.replace(real_result, id=f"r{index}", pixels=path,
                                                                 width=width))
        updates = display.updates()
        assert live.tick() == live.TICK_INTERVAL
        assert display.updates() == updates + 1
        path.unlink()
    assert not live._live.jobs
    assert counts(bpy) == before
    assert [image.name for image in bpy.data.images] == [PREVIEW]
    image = bpy.data.images[PREVIEW]
    assert tuple(image.size) == (64, 64)
    np.testing.assert_allclose(image_pixels(image), pixels[::-1] / 255.0, atol=1e-6)


def test_one_tick_shows_only_the_newest_of_three(bpy_module, addon, live, settings, real_result, tmp_path):
    bpy, display = bpy_module, addon.apply.live_preview
    mesh_object(bpy)
    settings.prompt = ""
    live.start(bpy.context)  # an empty prompt: the results below are the only ones
    made = [rgba_file(tmp_path, index, 64, 64) for index in range(3)]
    for sent in (2, 0, 1):  # finished out of order
        result = dataclasses.replace(real_result, id=f"r{sent}", pixels=made[sent][0])
        finished_preview(addon, live, sent, result)
    updates = display.updates()
    assert live.tick() == live.TICK_INTERVAL
    assert display.updates() == updates + 1  # one image update, not three
    np.testing.assert_allclose(image_pixels(bpy.data.images[PREVIEW]), made[2][1][::-1] / 255.0, atol=1e-6)
    assert live.show_newest([(1, dataclasses.replace(real_result, pixels=made[1][0]))]) is None  # older
    assert display.updates() == updates + 1


def test_a_file_of_the_wrong_size_is_not_shown(bpy_module, addon, live, real_result, tmp_path):
    bpy = bpy_module
    mesh_object(bpy)
    live.start(bpy.context)
    path, _ = rgba_file(tmp_path, 0, 64, 32)
    assert live.show_newest([(0, dataclasses.replace(real_result, pixels=path))]) is None
    assert PREVIEW not in bpy.data.images
    assert "holds 8192 bytes, not 64x64x4" in bpy.context.window_manager.atelier.last_error


def test_stop_puts_the_slots_back_exactly(bpy_module, live, real_result, tmp_path):
    bpy = bpy_module
    cube = mesh_object(bpy)
    for name in ("First", "Second"):
        cube.data.materials.append(bpy.data.materials.new(name))
    cube.material_slots[0].link = "OBJECT"
    cube.material_slots[0].material = bpy.data.materials.new("Own")
    cube.active_material_index = 1
    before, data_before = slots(cube), counts(bpy)
    live.start(bpy.context)
    path, _ = rgba_file(tmp_path, 0, 64, 64)
    live.show_newest([(0, dataclasses.replace(real_result, pixels=path))])
    assert cube.active_material.name == PREVIEW and cube.material_slots[1].link == "OBJECT"
    assert [m.name for m in cube.data.materials] == ["First", "Second"]  # the mesh is not touched
    live.stop()
    assert slots(cube) == before and counts(bpy) == data_before
    assert PREVIEW not in bpy.data.images and PREVIEW not in bpy.data.materials


def test_an_object_without_slots_gets_none_back(bpy_module, live, real_result, tmp_path):
    bpy = bpy_module
    cube = mesh_object(bpy)
    live.start(bpy.context)
    path, _ = rgba_file(tmp_path, 0, 64, 64)
    live.show_newest([(0, dataclasses.replace(real_result, pixels=path))])
    assert cube.active_material.name == PREVIEW
    live.stop()
    assert len(cube.material_slots) == 0 and len(cube.data.materials) == 0


def test_a_saved_file_holds_no_preview(bpy_module, live, real_result, tmp_path):
    bpy = bpy_module
    cube = mesh_object(bpy)
    cube.data.materials.append(bpy.data.materials.new("Brick"))
    live.start(bpy.context)
    path, pixels = rgba_file(tmp_path, 0, 64, 64)
    live.show_newest([(0, dataclasses.replace(real_result, pixels=path))])
    saved = tmp_path / "scene.blend"
    assert bpy.ops.wm.save_as_mainfile(filepath=str(saved), copy=True) == {"FINISHED"}

    # Still on after the save, with the same pixels.
    assert live.is_on() and cube.active_material.name == PREVIEW
    np.testing.assert_allclose(image_pixels(bpy.data.images[PREVIEW]), pixels[::-1] / 255.0, atol=1e-6)
    with bpy.data.libraries.load(str(saved)) as (data_from, _):
        assert PREVIEW not in data_from.images and PREVIEW not in data_from.materials
        assert "Brick" in data_from.materials

    bpy.ops.wm.open_mainfile(filepath=str(saved))  # the load turns the preview off
    assert not live.is_on()
    cube = bpy.data.objects["Cube"]
    assert cube.material_slots[0].link == "DATA" and cube.active_material.name == "Brick"
    assert PREVIEW not in bpy.data.images and PREVIEW not in bpy.data.materials


def marked(bpy, mark):
    """The names of the Images and materials that carry the preview's mark."""
    return [block.name for blocks in (bpy.data.images, bpy.data.materials) for block in blocks
            if mark in block]


def test_undo_never_brings_a_stopped_preview_back(bpy_module, addon, live, real_result, tmp_path):
    bpy, mark = bpy_module, addon.apply.live_preview.MARK
    cube = mesh_object(bpy)
    cube.data.materials.append(bpy.data.materials.new("Brick"))
    bpy.ops.ed.undo_push(message="init")
    before, data_before = slots(cube), counts(bpy)
    live.start(bpy.context)
    path, _ = rgba_file(tmp_path, 0, 64, 64)
    live.show_newest([(0, dataclasses.replace(real_result, pixels=path))])
    cube.location.x = 1.0  # an edit while the preview shows: its undo step holds the preview
    bpy.ops.ed.undo_push(message="move")
    live.stop()
    bpy.data.objects["Cube"].location.x = 2.0
    bpy.ops.ed.undo_push(message="move again")

    for step in (bpy.ops.ed.undo, bpy.ops.ed.undo, bpy.ops.ed.redo):
        assert step() == {"FINISHED"}
        cube = bpy.data.objects["Cube"]
        assert marked(bpy, mark) == [] and PREVIEW not in bpy.data.materials
        assert slots(cube) == before and counts(bpy) == data_before
    assert cube.location.x == 1.0  # the redo did happen: the edit is back, the preview is not

    saved = tmp_path / "after-undo.blend"
    assert bpy.ops.wm.save_as_mainfile(filepath=str(saved), copy=True) == {"FINISHED"}
    with bpy.data.libraries.load(str(saved)) as (data_from, _):
        assert PREVIEW not in data_from.images and PREVIEW not in data_from.materials


def test_an_undo_while_on_keeps_one_preview_showing(bpy_module, addon, live, real_result, tmp_path):
    bpy, mark = bpy_module, addon.apply.live_preview.MARK
    cube = mesh_object(bpy)
    bpy.ops.ed.undo_push(message="init")
    before, data_before = slots(cube), counts(bpy)
    live.start(bpy.context)
    path, pixels = rgba_file(tmp_path, 0, 64, 64)
    live.show_newest([(0, dataclasses.replace(real_result, pixels=path))])
    cube.location.x = 1.0
    bpy.ops.ed.undo_push(message="move")

    for step in (bpy.ops.ed.undo, bpy.ops.ed.redo, bpy.ops.ed.undo):
        assert step() == {"FINISHED"}
        cube = bpy.data.objects["Cube"]
        assert cube.active_material.name == PREVIEW and sorted(marked(bpy, mark)) == [PREVIEW, PREVIEW]
        np.testing.assert_allclose(image_pixels(bpy.data.images[PREVIEW]), pixels[::-1] / 255.0, atol=1e-6)
    live.stop()
    assert slots(bpy.data.objects["Cube"]) == before and counts(bpy) == data_before
    assert marked(bpy, mark) == []


def test_a_file_saved_with_the_preview_loads_without_it(bpy_module, addon, live, real_result, tmp_path):
    """Autosave and quit.blend are written without ``save_pre``: loading one drops the preview."""
    bpy, mark = bpy_module, addon.apply.live_preview.MARK
    cube = mesh_object(bpy)
    cube.data.materials.append(bpy.data.materials.new("Brick"))
    before = slots(cube)
    live.start(bpy.context)
    path, _ = rgba_file(tmp_path, 0, 64, 64)
    live.show_newest([(0, dataclasses.replace(real_result, pixels=path))])
    saved = tmp_path / "autosave.blend"
    bpy.data.libraries.write(str(saved), {bpy.context.scene}, fake_user=True)  # no save handlers run
    with bpy.data.libraries.load(str(saved)) as (data_from, _):
        assert PREVIEW in data_from.materials  # the file does hold it
    live.stop()
    bpy.ops.wm.open_mainfile(filepath=str(saved))
    assert marked(bpy, mark) == [] and slots(bpy.data.objects["Cube"]) == before


@pytest.mark.parametrize("mark", ["not a slot", {"object_name": 3}, {"object_name": "Cube", "index": "0",
                                                                    "link": "DATA", "object_material": "",
                                                                    "added": False}])
def test_a_mark_of_another_shape_is_dropped_without_touching_the_object(bpy_module, addon, live, mark):
    """A file is data: a mark Atelier did not write is removed, the object's slots left alone."""
    bpy, display = bpy_module, addon.apply.live_preview
    cube = mesh_object(bpy)
    odd = bpy.data.materials.new("Odd")
    odd[display.MARK] = mark
    cube.data.materials.append(odd)
    display.drop_stale_preview()
    assert "Odd" not in bpy.data.materials and len(cube.material_slots) == 1
