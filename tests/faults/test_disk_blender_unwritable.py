"""The job's folder made read-only while a texture job runs on the UI's path (the backend paused
after its first step, then let go on): the operator reports an error naming the folder that cannot
be written and saying to make it writable, the scene is as it was, nothing is left in
the jobs folder, and the same backend serves the next job. The backend runs without root's power
to ignore permissions (``FAULT_UNPRIVILEGED``), so the folder stops its writes under root too."""

from __future__ import annotations

import stat

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
from fault_backend import FAULT_UNPRIVILEGED
from fault_points import resume, wait_paused


def test_the_job_folder_made_unwritable_mid_job(bpy_module, addon, clean_scene, fault_armed_backend,
                                                monkeypatch):
    bpy, session = bpy_module, addon.client.session
    mesh_object(bpy, "Slate")
    before, listing = file_state(bpy), jobs_folder_listing(addon)
    monkeypatch.setenv(FAULT_UNPRIVILEGED, "1")
    pause = fault_armed_backend("step:1")
    probe = operator_probe(bpy, addon.operators.texture.ATELIER_OT_generate_texture, prompt="slate",
                           width=64, height=64, steps=2, seed=3, maps=set())
    start(probe, bpy.context)
    folder = probe._job.folder.path
    pid = wait_paused(pause)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)  # 0o500: listed and entered, never written
    try:
        resume(pause)
        outcome = tick(probe, bpy.context)
    finally:
        if folder.exists():
            folder.chmod(stat.S_IRWXU)
    assert outcome == {"CANCELLED"}, ("the backend wrote into a read-only folder: does it still ignore "
                                      f"file permissions ({FAULT_UNPRIVILEGED})? {probe.reports}")
    assert probe._job.error.code == "write_failed"
    [(kind, message)] = probe.reports
    assert kind == {"ERROR"}
    # Checked before the first file is made: the folder that cannot be written is named.
    assert message.startswith(f"the output folder {folder} was removed or cannot be written"), message
    assert "make that folder writable; nothing was applied" in message
    assert file_state(bpy) == before
    assert jobs_folder_listing(addon) == listing  # the job's folder went, read-only or not
    assert backend_pid(session) == pid
    next_job_works(bpy, session, pid)
