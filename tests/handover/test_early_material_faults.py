"""Everything that can end a texture call after its early material went on takes that material
off again: the file ends exactly as before the click (``texture_state``: datablocks, slots,
images, records, history). A backend error after the image event (the PNG cannot be written),
Esc, the backend killed, the maps job after it failing, a result that cannot be applied, the
target deleted meanwhile, a file loaded over it. A target of two deleted meanwhile is no
failure: the other gets the texture, named as the blocking path names it.

The kill comes last: every other case leaves the one paused backend serving the next job.
"""

from __future__ import annotations

import os
import resource
import signal

from blend_jobs import drain_until, jobs_folder_listing, late_tick, load, next_job_works
from blender_helpers import mesh_object
from early_material import TEXTURE, show_early, shown_image, texture_probe, texture_state, tick
from fault_points import resume, wait_reaped
from modal_events import ESC, TIMER
from scene_state import datablock_state

FILE_SIZE_LIMIT = 64  # bytes: far less than the PNG, so its write fails part way


def reached_backend(addon) -> None:
    """Wait until the backend has read every line sent so far: it handles lines in order, so
    once a ping sent now is answered, they have been. The paused job sends nothing meanwhile."""
    protocol = addon.core.protocol
    client = addon.client.session.current_client()
    assert client.send_if_running(protocol.PingRequest(id="after-cancel"))
    events = []
    while not any(isinstance(event, protocol.PongEvent) for event in events):
        polled = client.poll(timeout=5.0)
        assert polled, "the backend did not answer a ping"
        events += polled
    assert [event.type for event in events] == ["pong"], events


def interrupted(bpy, addon, pause_file, act, **properties) -> tuple[set, list, object]:
    """Run a texture call on the UI's path with a cube as its target; once its early material
    shows, ``act(probe, pid)`` changes the world and the backend goes on. Returns the outcome,
    the reports, and the probe; checks that the early material was there, and that the file and
    Atelier's jobs folder are as before the click."""
    cube = mesh_object(bpy)
    before, listing = texture_state(bpy), jobs_folder_listing(addon)
    probe = texture_probe(bpy, addon, **properties)
    pid = show_early(probe, bpy.context, pause_file)
    assert cube.active_material.name == TEXTURE["prompt"]
    act(probe, pid)
    outcome = tick(probe, bpy.context)
    assert texture_state(bpy) == before, probe.reports
    assert len(cube.data.materials) == 0  # the slot added for the material went with it
    drain_until(addon.client.session, lambda: jobs_folder_listing(addon) == listing,
                what="the jobs folder to be as before")
    return outcome, probe.reports, probe


def test_a_png_that_cannot_be_written_takes_the_material_off(bpy_module, addon, clean_scene, paused_backend):
    def fill_the_disk(probe, pid):
        soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, hard))
        resume(paused_backend)
        drain_until(addon.client.session, lambda: probe._job.done, what="the write to fail")
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))

    outcome, reports, _ = interrupted(bpy_module, addon, paused_backend, fill_the_disk)
    assert outcome == {"CANCELLED"}
    [(kind, message)] = reports
    assert kind == {"ERROR"} and "base_color.png: File too large" in message


def test_esc_takes_the_material_off(bpy_module, addon, clean_scene, paused_backend):
    def escape(probe, _pid):
        assert probe.modal(bpy_module.context, ESC) == {"RUNNING_MODAL"}
        reached_backend(addon)  # else the job might run on to its PNG before the cancel is read
        resume(paused_backend)

    outcome, reports, _ = interrupted(bpy_module, addon, paused_backend, escape)
    assert outcome == {"CANCELLED"}
    assert reports == [({"WARNING"}, f"texture '{TEXTURE['prompt']}': cancelled")]


def test_a_failing_maps_job_takes_the_texture_off(bpy_module, addon, clean_scene, paused_backend, tmp_path):
    missing = tmp_path / "no-maps-model"
    outcome, reports, probe = interrupted(bpy_module, addon, paused_backend,
                                          lambda _probe, _pid: resume(paused_backend),
                                          maps={"NORMAL"}, maps_model=str(missing))
    assert outcome == {"CANCELLED"}
    assert probe._texture_result is not None  # the texture came; its maps job failed
    [(kind, message)] = reports
    assert kind == {"ERROR"} and str(missing) in message, message


def test_a_result_that_cannot_be_applied_takes_the_material_off(bpy_module, addon, clean_scene,
                                                                 paused_backend):
    def lose_the_png(probe, _pid):
        resume(paused_backend)
        drain_until(addon.client.session, lambda: probe._job.done, what="the result")
        probe._job.result.base_color.unlink()  # as if removed from the disk before Blender read it

    outcome, reports, _ = interrupted(bpy_module, addon, paused_backend, lose_the_png)
    assert outcome == {"CANCELLED"}
    [(kind, message)] = reports
    assert kind == {"ERROR"} and "but the file is not there" in message


def test_a_target_deleted_meanwhile_takes_the_material_off(bpy_module, addon, clean_scene, paused_backend):
    bpy = bpy_module
    mesh_object(bpy, "Other").select_set(False)  # not a target: it shows the scene is kept
    cube = mesh_object(bpy)
    mesh = cube.data
    before = texture_state(bpy)
    probe = texture_probe(bpy, addon)
    show_early(probe, bpy.context, paused_backend)
    assert len(mesh.materials) == 1
    bpy.data.objects.remove(cube)
    resume(paused_backend)
    assert tick(probe, bpy.context) == {"CANCELLED"}
    assert "no longer exist" in probe.reports[-1][1]
    expected = {**before, "objects": ["Other"], "slots": {"Other": []}}
    assert texture_state(bpy) == expected
    assert len(mesh.materials) == 0  # the mesh left behind keeps no slot either


def test_one_of_two_targets_deleted_meanwhile_the_other_gets_the_texture(bpy_module, addon, clean_scene,
                                                                         paused_backend):
    bpy = bpy_module
    wall = mesh_object(bpy, "Wall", uvs=True)
    mesh_object(bpy, "Crate", uvs=False).select_set(True)
    wall.select_set(True)
    probe = texture_probe(bpy, addon)
    show_early(probe, bpy.context, paused_backend)
    name = TEXTURE["prompt"]
    assert {m.name for m in bpy.data.materials} == {name, f"{name} (box)"}  # one box-mapped for the crate
    bpy.data.objects.remove(bpy.data.objects["Crate"])
    resume(paused_backend)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    state = texture_state(bpy)  # as the blocking path names what it makes for the wall alone
    assert (state["materials"], state["images"], state["slots"]) == ([name], [name], {"Wall": [name]})
    assert shown_image(wall.active_material).packed_file is not None
    assert probe.reports[-1][1].endswith("skipped deleted object(s) Crate")


def test_a_file_loaded_over_the_early_material_ends_the_call(bpy_module, addon, clean_scene, paused_backend,
                                                             tmp_path):
    bpy, session = bpy_module, addon.client.session
    mesh_object(bpy)
    saved = tmp_path / "before.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(saved))
    listing = jobs_folder_listing(addon)
    probe = texture_probe(bpy, addon)
    show_early(probe, bpy.context, paused_backend)
    job = probe._job
    load(bpy, probe, saved)  # Blender ends the operator as it loads: what it showed was the old file's
    loaded = texture_state(bpy)
    assert loaded["materials"] == [] and loaded["images"] == []
    resume(paused_backend)
    drain_until(session, lambda: job.folder.removed, what="the backend's last word on the ended job")
    assert probe.modal(bpy.context, TIMER) != {"FINISHED"}  # a late tick applies nothing
    assert texture_state(bpy) == loaded and jobs_folder_listing(addon) == listing
    next_job_works(bpy, session, job.client._transport.pid)


def test_an_undo_over_the_early_material_leaves_the_result_to_be_applied_as_usual(
        bpy_module, addon, clean_scene, paused_backend):
    """An undo step pushed while the early material shows (any edit), then undone: the early
    datablocks are gone with the state before the click, and the result goes on as usual."""
    bpy = bpy_module
    mesh_object(bpy)
    bpy.ops.ed.undo_push(message="before the click")
    probe = texture_probe(bpy, addon)
    show_early(probe, bpy.context, paused_backend)
    bpy.ops.ed.undo_push(message="an edit while it shows")
    bpy.ops.ed.undo()
    assert bpy.data.materials.get(TEXTURE["prompt"]) is None  # the state before the click
    resume(paused_backend)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    state = texture_state(bpy)
    name = TEXTURE["prompt"]
    assert (state["materials"], state["images"], state["slots"]) == ([name], [name], {"Cube": [name]})
    assert shown_image(bpy.data.objects["Cube"].active_material).packed_file is not None


def test_an_undo_to_a_step_holding_the_early_material_leaves_no_orphan_and_no_renamed_result(
        bpy_module, addon, clean_scene, paused_backend):
    """Edits while the early material shows push undo steps that hold it; an undo to one of them
    re-reads the early datablocks (Python references to them die). They are found again: the
    PNG takes the early Image's place as usual, nothing is left over, nothing is named '.001'."""
    bpy = bpy_module
    cube = mesh_object(bpy)
    bpy.ops.ed.undo_push(message="before the click")
    probe = texture_probe(bpy, addon)
    show_early(probe, bpy.context, paused_backend)
    cube.location.x = 1.0
    bpy.ops.ed.undo_push(message="an edit while it shows")
    cube.location.x = 2.0
    bpy.ops.ed.undo_push(message="another edit")
    bpy.ops.ed.undo()
    name = TEXTURE["prompt"]
    assert bpy.data.objects["Cube"].active_material.name == name  # the early material, read again
    resume(paused_backend)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    state = texture_state(bpy)
    assert (state["materials"], state["images"], state["slots"]) == ([name], [name], {"Cube": [name]})
    assert state["history_images"] == [(name, name, "Cube")]
    assert all(block.users > 0 for block in (*bpy.data.materials, *bpy.data.images))
    assert shown_image(bpy.data.objects["Cube"].active_material).packed_file is not None
    assert bpy.data.objects["Cube"].location.x == 1.0  # the undo itself stands


def test_blender_ending_the_operator_takes_the_material_off(bpy_module, addon, clean_scene, paused_backend):
    """Blender ends the modal operator (``cancel``: a window closed) while the early material
    shows: the scene is as before the click and no early datablock is left."""
    bpy, session = bpy_module, addon.client.session
    cube = mesh_object(bpy)
    before, listing = datablock_state(bpy), jobs_folder_listing(addon)
    probe = texture_probe(bpy, addon)
    show_early(probe, bpy.context, paused_backend)
    job = probe._job
    assert cube.active_material.name == TEXTURE["prompt"]
    probe.cancel(bpy.context)
    ended, slots_left = datablock_state(bpy), len(cube.data.materials)
    marked = [image.name for image in bpy.data.images if addon.apply.early_texture.EARLY_MARK in image]
    # The backend goes on before the checks, so a failing one leaves it serving the next test.
    resume(paused_backend)
    drain_until(session, lambda: job.folder.removed, what="the backend's last word on the ended job")
    late_tick(probe, bpy.context)  # a timer event already queued applies nothing
    assert ended == before
    assert slots_left == 0 and not marked and probe._early is None
    assert datablock_state(bpy) == before and jobs_folder_listing(addon) == listing
    assert job.cancelled


def test_a_killed_backend_takes_the_material_off(bpy_module, addon, clean_scene, paused_backend):
    killed = []

    def kill(_probe, pid):
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    outcome, reports, _ = interrupted(bpy_module, addon, paused_backend, kill)
    paused_backend.unlink()  # the dead backend's pause; a fresh one stops anew
    assert outcome == {"CANCELLED"}
    [(kind, message)] = reports
    assert kind == {"ERROR"} and "the backend process exited (status -9, killed by SIGKILL)" in message
    assert wait_reaped(killed[0])
