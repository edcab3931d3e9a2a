"""What a file load ends: exactly the jobs that ran when it began. A job started during the load
(here by another add-on's ``load_post`` handler that runs before Atelier's) belongs to the loaded
file: it runs on and its result lands there, while the job of the file closed is cancelled."""

from __future__ import annotations

from blend_jobs import load, operator_probe, start, tick, two_files
from blender_helpers import mesh_object
from fault_points import resume, wait_paused


def test_a_job_started_during_the_load_is_the_loaded_files(bpy_module, addon, clean_scene,
                                                           fault_armed_backend, tmp_path):
    bpy, session = bpy_module, addon.client.session
    _work, other = two_files(bpy, tmp_path, lambda bpy: mesh_object(bpy, "Slate"))
    texture = addon.operators.texture.ATELIER_OT_generate_texture
    closed = operator_probe(bpy, texture, prompt="slate", width=64, height=64, steps=2, seed=3, maps=set())
    loaded = operator_probe(bpy, texture, prompt="moss", width=64, height=64, steps=1, seed=3, maps=set())
    pause = fault_armed_backend("step:1")  # once: the loaded file's job is not stopped
    start(closed, bpy.context)
    wait_paused(pause)

    @bpy.app.handlers.persistent
    def another_addon_starts_a_job(*_args):
        start(loaded, bpy.context)  # on the loaded file's active object, the globe

    bpy.app.handlers.load_post.insert(0, another_addon_starts_a_job)
    try:
        load(bpy, closed, other)
    finally:
        bpy.app.handlers.load_post.remove(another_addon_starts_a_job)
    assert closed._job.cancelled and closed._job.error.message == "a file was loaded"
    assert session.active_jobs() == [loaded._job]
    resume(pause)
    assert tick(loaded, bpy.context) == {"FINISHED"}, loaded.reports
    assert bpy.data.objects["Globe"].active_material.name == "moss"
