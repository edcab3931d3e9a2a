"""The batch queue on a remote Ray Serve backend (``ray_backend``: two CPU worker replicas, the
tiny SD model): every job is queued at once and the replicas run them side by side."""

from __future__ import annotations

import time

from test_batch_modal import ESC, TIMER, batch_probe


def stepping(run) -> list:
    """The batch's jobs that have begun denoising and not ended."""
    return [v.job for item in run.items for v in item.variations
            if v.job is not None and not v.job.done and v.job.step > 0]


def test_jobs_run_side_by_side_on_the_replicas(bpy_module, addon, objects, batch_scene, job_state,
                                               ray_backend, monkeypatch):
    bpy, context, session = bpy_module, bpy_module.context, addon.client.session
    session.shutdown()  # the next job connects afresh, to the server named below
    monkeypatch.setenv("ATELIER_BACKEND_URL", ray_backend.url)
    monkeypatch.setenv("ATELIER_BACKEND_TOKEN", ray_backend.token)
    try:
        # Blocking, as under blender -b; it also has each replica load the model.
        warm = objects("North", "South")
        assert bpy.ops.atelier.batch_textures(prompt_from="FIXED", prompt="granite") == {"FINISHED"}
        assert isinstance(session.current_client().config, addon.client.remote_config.RemoteConfig)
        assert sorted(obj.active_material.name for obj in warm) == ["granite", "granite.001"]

        settings = batch_scene.atelier.texture
        settings.width = settings.height = 512
        settings.steps = 150  # long jobs: the test cancels them once it has seen what it needs
        bpy.ops.object.select_all(action="DESELECT")
        objects("East", "West", "Up")
        probe = batch_probe(addon)
        run = probe._start(context)
        assert run is not None, probe.reports
        deadline = time.monotonic() + 240
        while len(stepping(run)) < 2:
            assert time.monotonic() < deadline, f"two jobs never ran at once: {probe.reports}"
            assert probe.modal(context, TIMER) == {"PASS_THROUGH"}
            assert len(stepping(run)) <= 2  # two replicas, one job each
            time.sleep(0.02)
        third = [v.job for item in run.items for v in item.variations if v.job not in stepping(run)]
        assert len(third) == 1 and third[0].step == 0 and not third[0].done  # waits for a replica
        assert probe.modal(context, ESC) == {"RUNNING_MODAL"}
        outcome = {"PASS_THROUGH"}
        while outcome == {"PASS_THROUGH"}:
            assert time.monotonic() < deadline + 60, probe.reports
            time.sleep(0.02)
            outcome = probe.modal(context, TIMER)
    finally:
        session.shutdown()
    assert outcome == {"CANCELLED"}
    assert probe.reports == [({"WARNING"}, "Batch: 0 of 3 item(s) done, 3 cancelled")]
