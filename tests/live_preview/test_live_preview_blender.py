"""Live preview in real Blender with the real backend and the tiny model: the operator's refusal
under ``blender -b``, previews sent on each change, shown by the timer's tick in one Image."""

import dataclasses
import os
import sys
import time

import numpy as np
import pytest
from blender_helpers import drain_until, image_pixels, mesh_object
from panel_recorder import draw, operator_settings

PREVIEW = "Atelier Preview"


def preview_jobs(jobs):
    return [job for job in jobs.active_jobs() if job.request.preview]


def tick_until(live, done, what, timeout=120.0):
    """Call the timer's tick as Blender would, until ``done()``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        assert live.tick() == live.TICK_INTERVAL
        time.sleep(0.02)


def test_refused_under_background_mode(bpy_module, live, clean_scene):
    bpy = bpy_module
    mesh_object(bpy)
    before = (len(bpy.data.images), len(bpy.data.materials), clean_scene.atelier.texture.seed)
    with pytest.raises(RuntimeError, match="live preview needs Blender's interface; under blender -b use "
                                           "generate_texture"):
        bpy.ops.atelier.live_preview(enable=True)
    assert not live.is_on()
    assert (len(bpy.data.images), len(bpy.data.materials), clean_scene.atelier.texture.seed) == before
    assert bpy.ops.atelier.live_preview(enable=False) == {"FINISHED"}  # turning it off always works


def test_a_prompt_change_sends_one_preview_and_the_tick_shows_it(bpy_module, addon, live, settings,
                                                                 backend_env, tmp_path):
    bpy, jobs, display = bpy_module, addon.client.session, addon.apply.live_preview
    cube = mesh_object(bpy)
    settings.prompt = "red bricks"
    settings.seed = 11
    live.start(bpy.context)
    assert len(preview_jobs(jobs)) == 1  # the settings as they are
    settings.prompt = "blue tiles"
    sent = preview_jobs(jobs)
    assert len(sent) == 2
    request = sent[-1].request
    assert (request.prompt, request.seed, request.steps, request.width, request.height) == (
        "blue tiles", 11, 1, live.PREVIEW_SIZE, live.PREVIEW_SIZE)
    assert request.preview and request.tiny_autoencoder and request.model == str(backend_env)
    settings.negative_prompt = "grass"  # not a field the preview follows
    settings.guidance = 3.0
    assert len(preview_jobs(jobs)) == 2

    tick_until(live, display.is_shown, "a preview on the cube")
    image = bpy.data.images[PREVIEW]
    assert tuple(image.size) == (live.PREVIEW_SIZE, live.PREVIEW_SIZE)
    assert cube.material_slots[0].link == "OBJECT" and cube.active_material.name == PREVIEW
    assert len(cube.data.materials) == 1 and cube.data.materials[0] is None  # the mesh keeps none
    tick_until(live, lambda: not preview_jobs(jobs), "every preview to end")

    # The pixels are the backend's for the newest prompt: the same request again, read directly.
    settings.property_unset("negative_prompt")
    settings.property_unset("guidance")
    again = jobs.submit(jobs.current_client(), live.preview_request(settings))
    drain_until(jobs, jobs.current_client(), lambda: again.done, what="the check preview")
    assert again.error is None, again.error
    result = again.result
    expected = addon.apply.raw_pixels.read_pixels(result.pixels, result.width, result.height)
    jobs.release(again.id)
    np.testing.assert_allclose(image_pixels(image).ravel(), expected, atol=1e-6)


@pytest.fixture
def long_previews(live, monkeypatch):
    """Previews of 150 steps: long enough on the CPU to act while one runs."""
    monkeypatch.setattr(live, "PREVIEW_STEPS", 150)


def test_a_tick_returns_while_a_preview_still_runs(bpy_module, addon, live, settings, backend_env,
                                                   long_previews):
    bpy, jobs, display = bpy_module, addon.client.session, addon.apply.live_preview
    mesh_object(bpy)
    settings.prompt = "wet cobblestones"
    live.start(bpy.context)
    job = preview_jobs(jobs)[0]
    drain_until(jobs, jobs.current_client(), lambda: job.step >= 1, what="the preview's first step")
    images = len(bpy.data.images)
    assert live.tick() == live.TICK_INTERVAL  # returned without waiting for the result
    assert not job.done and not display.is_shown() and len(bpy.data.images) == images
    live.stop()
    assert live.tick() is None  # the timer ends itself once the preview is off


def test_a_preview_cut_short_by_generate_is_sent_again_once(bpy_module, addon, live, settings, backend_env,
                                                            long_previews):
    bpy, jobs = bpy_module, addon.client.session
    mesh_object(bpy)
    settings.prompt, settings.seed = "mossy bark", 8
    live.start(bpy.context)
    client = jobs.current_client()

    def cut_short(preview):
        """A non-preview job while ``preview`` runs: the backend cancels the preview."""
        drain_until(jobs, client, lambda: preview.step >= 1, what="the preview's first step")
        request = live.preview_request(settings, size=64)
        texture = jobs.submit(client, dataclasses.replace(request, preview=False, tiny_autoencoder=False))
        tick_until(live, lambda: preview.done, "the preview to end")
        assert preview.cancelled
        drain_until(jobs, client, lambda: texture.done, what="the texture")
        jobs.release(texture.id)

    first = preview_jobs(jobs)[0]
    cut_short(first)
    again = preview_jobs(jobs)
    assert len(again) == 1 and again[0].id != first.id
    assert (again[0].request.prompt, again[0].request.seed) == ("mossy bark", 8)
    cut_short(again[0])
    assert not preview_jobs(jobs)  # once, not in a loop
    assert live.tick() == live.TICK_INTERVAL and not preview_jobs(jobs)
    settings.prompt = "dry bark"  # a new change: its preview may be sent again once more
    assert len(preview_jobs(jobs)) == 1


def test_previews_follow_a_change_of_backend_settings(bpy_module, addon, live, settings, backend_env,
                                                      monkeypatch):
    bpy, jobs, display = bpy_module, addon.client.session, addon.apply.live_preview
    mesh_object(bpy)
    settings.prompt = "granite"
    live.start(bpy.context)
    old = jobs.current_client()
    assert preview_jobs(jobs)[0].client is old
    python = os.path.join(os.path.dirname(sys.executable), ".", os.path.basename(sys.executable))
    monkeypatch.setenv("ATELIER_PYTHON", python)  # the same interpreter spelled anew: a new backend
    settings.prompt = "basalt"
    new = jobs.current_client()
    assert new is not old and not old.running()  # one backend, the one shutdown stops
    assert [job.client for job in preview_jobs(jobs)] == [new]
    tick_until(live, display.is_shown, "a preview from the new backend")
    assert not old.running()


def test_a_target_that_cannot_show_it_changes_nothing(bpy_module, addon, live, settings, backend_env,
                                                      monkeypatch):
    bpy, display = bpy_module, addon.apply.live_preview
    mesh_object(bpy)
    settings.prompt = "rust"
    monkeypatch.setattr(display, "can_hold_material", lambda obj: False)
    with pytest.raises(addon.client.session.ApplyError, match="cannot hold a material"):
        live.start(bpy.context)
    assert not live.is_on() and settings.seed == -1 and not preview_jobs(addon.client.session)


def test_history_entries_send_no_previews(bpy_module, addon, live, settings, clean_scene, backend_env):
    bpy, jobs = bpy_module, addon.client.session
    mesh_object(bpy)
    settings.prompt = "granite"  # a prompt, so that a change that did send would send a preview
    live.start(bpy.context)
    sent = {job.id for job in preview_jobs(jobs)}
    assert sent  # the panel's own preview
    entry = clean_scene.atelier.history.add()
    entry.prompt, entry.seed, entry.steps, entry.style = "stone", 3, 4, "photoreal"
    assert {job.id for job in preview_jobs(jobs)} <= sent


def test_the_seed_written_on_start_is_what_generate_uses(bpy_module, addon, live, settings, clean_scene,
                                                        backend_env):
    bpy, jobs, display = bpy_module, addon.client.session, addon.apply.live_preview
    cube = mesh_object(bpy)
    settings.prompt = "oak planks"
    assert settings.seed == -1
    live.start(bpy.context)
    seed = settings.seed
    assert seed >= 0 and preview_jobs(jobs)[0].request.seed == seed
    button = operator_settings(draw(bpy, addon.panels.texture.ATELIER_PT_texture),
                               "atelier.generate_texture")[0]
    assert button["seed"] == seed
    tick_until(live, display.is_shown, "a preview on the cube")
    assert bpy.ops.atelier.generate_texture(**button, steps=2, maps=set()) == {"FINISHED"}
    entry = clean_scene.atelier.history[-1]
    assert entry.seed == seed
    assert cube.active_material.name == entry.material_name  # the full texture shows, not the preview
    live.stop()  # and it stays, on the mesh, as without a preview
    assert cube.material_slots[0].link == "DATA" and cube.data.materials[0].name == entry.material_name


def test_the_panel_toggle_turns_it_on_and_off(bpy_module, addon, live, settings, backend_env):
    bpy = bpy_module
    mesh_object(bpy)
    panel = addon.panels.texture.ATELIER_PT_texture
    assert operator_settings(draw(bpy, panel), "atelier.live_preview") == [{"enable": True}]
    live.start(bpy.context)
    calls = draw(bpy, panel)
    assert operator_settings(calls, "atelier.live_preview") == [{"enable": False}]
    assert any(name == "operator" and args[0] == "atelier.live_preview" and kwargs["depress"]
               for name, args, kwargs in calls)


def test_the_builtin_engine_is_refused_with_nothing_changed(bpy_module, addon, live, settings, monkeypatch):
    bpy = bpy_module
    mesh_object(bpy)
    monkeypatch.setenv("ATELIER_TEXTURE_MODEL", "builtin")
    with pytest.raises(addon.client.session.JobRefused, match="needs a texture model"):
        live.start(bpy.context)
    assert not live.is_on() and settings.seed == -1 and PREVIEW not in bpy.data.images


def test_an_unknown_style_is_refused_with_nothing_changed(bpy_module, addon, live, settings, backend_env):
    bpy = bpy_module
    cube = mesh_object(bpy)
    settings.style = "no such style"
    with pytest.raises(addon.client.session.JobRefused, match="no such style"):
        live.start(bpy.context)
    assert not live.is_on() and settings.seed == -1 and cube.active_material is None


def test_a_seed_set_to_random_while_on_becomes_one_seed(bpy_module, addon, live, settings, backend_env):
    bpy, jobs = bpy_module, addon.client.session
    mesh_object(bpy)
    settings.prompt, settings.seed = "slate roof", 4
    live.start(bpy.context)
    settings.seed = -1
    seed = settings.seed
    assert seed >= 0  # written into the panel, so Generate uses it too
    sent = preview_jobs(jobs)
    assert len(sent) == 2 and sent[-1].request.seed == seed


def test_disabling_atelier_removes_the_preview_and_its_hooks(bpy_module, addon, live, settings, backend_env):
    import addon_utils

    bpy = bpy_module
    cube = mesh_object(bpy)
    settings.prompt = "sand"
    live.start(bpy.context)
    tick_until(live, addon.apply.live_preview.is_shown, "a preview on the cube")
    display = addon.apply.live_preview
    tick, handlers = live.tick, (live.stop_on_load, display.hide_for_save, display.show_after_save,
                                 display.drop_stale_preview)
    addon_utils.disable(addon.__name__, default_set=True)
    try:
        assert not bpy.app.timers.is_registered(tick)
        registered = (bpy.app.handlers.load_pre, bpy.app.handlers.save_pre, bpy.app.handlers.save_post,
                      bpy.app.handlers.undo_post, bpy.app.handlers.redo_post, bpy.app.handlers.load_post)
        assert not any(handler in hooks for handler in handlers for hooks in registered)
        assert PREVIEW not in bpy.data.images and PREVIEW not in bpy.data.materials
        assert len(cube.material_slots) == 0
    finally:
        addon_utils.enable(addon.__name__, default_set=True)
