"""A file loaded while the live preview is on (its timer is the other path that puts results into
the scene): once another file is open the preview is off, and the preview result the backend sends
after the load is never shown there, whatever late timer ticks come; a file that cannot be read
leaves the preview on, shown on its object, and the next preview shows."""

from __future__ import annotations

import time

import pytest
from blend_jobs import drain_until, file_state, jobs_folder_listing, two_files
from blender_helpers import mesh_object
from fault_points import resume, wait_paused

PREVIEW = "Atelier Preview"


@pytest.fixture
def live(addon, clean_scene):
    """``operators/live_preview.py`` with the Texture panel small; off again after the test."""
    settings = clean_scene.atelier.texture
    settings.width = settings.height = 64
    yield addon.operators.live_preview
    addon.operators.live_preview.stop()


def tick_until(live, done, limit=120.0):
    """The preview's timer, ticked by hand as Blender would until ``done()``."""
    deadline = time.monotonic() + limit
    while not done():
        assert time.monotonic() < deadline, f"waited {limit:.0f} s for the preview"
        assert live.tick() == live.TICK_INTERVAL
        time.sleep(0.02)


def test_a_preview_answered_after_another_file_opened_is_never_shown(bpy_module, addon, live,
                                                                     fault_armed_backend, tmp_path):
    bpy, session, display = bpy_module, addon.client.session, addon.apply.live_preview
    _work, other = two_files(bpy, tmp_path, lambda bpy: mesh_object(bpy, "Slate"))
    listing = jobs_folder_listing(addon)
    pause = fault_armed_backend("step:1")  # the preview's only step: its picture not yet sent
    bpy.context.scene.atelier.texture.prompt = "moss"
    live.start(bpy.context)
    [job] = live._live.jobs.values()
    wait_paused(pause)
    updates = display.updates()

    bpy.ops.wm.open_mainfile(filepath=str(other))
    assert not live.is_on() and job.cancelled
    assert not bpy.app.timers.is_registered(live.tick)
    loaded = file_state(bpy)
    assert live.tick() is None  # a late tick: the timer ends, nothing shown
    resume(pause)
    drain_until(session, lambda: live.tick() is None and job.folder.removed,
                what="the backend's last word on the preview")
    assert live.tick() is None
    assert file_state(bpy) == loaded and display.updates() == updates
    assert PREVIEW not in bpy.data.images and PREVIEW not in bpy.data.materials
    assert jobs_folder_listing(addon) == listing


def test_a_file_that_cannot_be_read_leaves_the_preview_on(bpy_module, addon, live, backend_env, tmp_path):
    bpy, display = bpy_module, addon.apply.live_preview
    slate = mesh_object(bpy, "Slate")
    settings = bpy.context.scene.atelier.texture
    settings.prompt = "moss"
    live.start(bpy.context)
    tick_until(live, display.is_shown)
    broken = tmp_path / "broken.blend"
    broken.write_bytes(b"BLENDER-v500 and then nothing")
    with pytest.raises(RuntimeError, match="broken.blend"):
        bpy.ops.wm.open_mainfile(filepath=str(broken))
    assert live.is_on() and display.is_shown() and bpy.app.timers.is_registered(live.tick)
    assert slate.active_material.name == PREVIEW
    updates = display.updates()
    settings.prompt = "rust"  # sends the next preview
    tick_until(live, lambda: display.updates() > updates)
    assert slate.active_material.name == PREVIEW
