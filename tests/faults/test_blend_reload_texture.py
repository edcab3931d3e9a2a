"""The .blend reloaded while Generate Texture with maps runs on the UI's path: while the picture
is written (the job is cancelled saying why, no maps job follows, nothing reaches the reloaded
file even once the backend's result arrives), and between the texture and its maps job (the
texture made is not kept either). Every job folder goes once the backend is done with it, and the
same backend serves the next job. A file that cannot be read leaves the open one, and its job,
as they were."""

from __future__ import annotations

import pytest
from blend_jobs import load, next_job_works, operator_probe, run_and_load, start, tick, two_files
from blender_helpers import mesh_object


@pytest.mark.parametrize("point", ["write:1", "result"])
def test_the_file_reloaded_under_a_texture_job_with_maps(bpy_module, addon, clean_scene, fault_armed_backend,
                                                         tiny_marigold, tmp_path, point):
    bpy = bpy_module
    work, _other = two_files(bpy, tmp_path, lambda bpy: mesh_object(bpy, "Slate"))
    probe = operator_probe(bpy, addon.operators.texture.ATELIER_OT_generate_texture, prompt="slate",
                           width=64, height=64, steps=2, seed=3, maps={"NORMAL"},
                           maps_model=str(tiny_marigold))
    if point == "write:1":  # half the picture written: its result is sent after the load
        jobs, pid = run_and_load(bpy, addon, probe, fault_armed_backend(point), work)
        assert [(job.request.type, job.error.message) for job in jobs] == [
            ("texture", "a file was loaded")]
        assert probe._texture_result is None  # no maps job followed
        assert bpy.context.window_manager.atelier.last_error.startswith("texture 'slate': cancelled")
    else:  # the texture's result taken, its maps job sent: the load comes before the maps begin
        jobs, pid = run_and_load(bpy, addon, probe, fault_armed_backend(point), work,
                                 ticks_until=lambda: probe._texture_result is not None)
        assert [job.request.type for job in jobs] == ["maps"]
        assert not probe._texture_result.base_color.exists()  # the texture's folder went too
        assert bpy.context.window_manager.atelier.last_error.startswith("maps of 'slate': cancelled")
    next_job_works(bpy, addon.client.session, pid)


def test_a_file_that_cannot_be_read_leaves_the_job_running(bpy_module, addon, clean_scene, backend_env,
                                                           tmp_path):
    bpy = bpy_module
    mesh_object(bpy, "Slate")
    broken = tmp_path / "broken.blend"
    broken.write_bytes(b"BLENDER-v500 and then nothing")
    probe = operator_probe(bpy, addon.operators.texture.ATELIER_OT_generate_texture, prompt="slate",
                           width=64, height=64, steps=1, seed=3, maps=set())
    start(probe, bpy.context)
    with pytest.raises(RuntimeError, match="broken.blend"):
        load(bpy, probe, broken)
    assert probe._job in addon.client.session.active_jobs()
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    assert bpy.data.objects["Slate"].active_material.name == "slate"
