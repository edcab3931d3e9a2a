"""The output folder fills while a texture job runs on the UI's path (a file-size limit put on
the paused backend, as a full disk would stop its writes): the operator reports an error naming
the file that could not be written, the scene is as it was, nothing is left in the jobs folder,
and once there is room again the same backend serves the next job."""

from __future__ import annotations

import resource

from blend_jobs import (
    backend_pid,
    file_state,
    jobs_folder_listing,
    next_job_works,
    operator_probe,
    start,
    tick,
)
from blender_helpers import mesh_object
from fault_points import resume, wait_paused

ROOM = 512  # bytes a file may grow to: less than any picture the job writes


def test_the_output_folder_fills_mid_job(bpy_module, addon, clean_scene, fault_armed_backend):
    bpy, session = bpy_module, addon.client.session
    mesh_object(bpy, "Slate")
    before, listing = file_state(bpy), jobs_folder_listing(addon)
    pause = fault_armed_backend("step:1")
    probe = operator_probe(bpy, addon.operators.texture.ATELIER_OT_generate_texture, prompt="slate",
                           width=64, height=64, steps=2, seed=3, maps=set())
    start(probe, bpy.context)
    folder = probe._job.folder.path
    pid = wait_paused(pause)
    # The soft limit only: putting it back needs no privilege (a hard limit cannot be raised).
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (ROOM, hard))
    try:
        resume(pause)
        assert tick(probe, bpy.context) == {"CANCELLED"}
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
    [(kind, message)] = probe.reports
    assert kind == {"ERROR"}
    assert message.startswith(f"cannot write {folder}/") and ".png: File too large" in message
    assert "free space on the drive that holds Atelier's jobs folder" in message
    assert file_state(bpy) == before
    assert jobs_folder_listing(addon) == listing  # the half-written file went with its folder
    assert backend_pid(session) == pid
    next_job_works(bpy, session, pid)
