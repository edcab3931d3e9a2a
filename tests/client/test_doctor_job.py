"""Doctor on the one road to the backend: a ``doctor`` job through the shared client, and the
job deadline (``BackendJobOperator.timeout``) on the UI's modal path."""

from __future__ import annotations

import time

import pytest
from modal_events import TIMER


def _probe_class(addon, timeout):
    """A plain-Python stand-in for a modal operator instance: the real mixin and Doctor's
    request, with ``report`` recorded (bpy operators cannot be instantiated directly)."""
    doctor = addon.operators.doctor

    class Probe(addon.operators.backend_operator.BackendJobOperator):
        bl_idname = "atelier.backend_doctor"
        bl_label = "Doctor"

        def __init__(self):
            self.reports = []

        def make_request(self, context, request_id):
            return doctor.ATELIER_OT_backend_doctor.make_request(self, context, request_id)

        def apply_result(self, context, result):
            return "Backend OK" if result.ok else "not ok"

        def report(self, kind, message):
            self.reports.append((kind, message))

    Probe.timeout = timeout
    return Probe


def test_the_modal_path_cancels_a_job_at_its_deadline(bpy_module, addon, backend_env, job_state):
    """The UI drains from a timer; past ``timeout`` the job is abandoned (cancel sent, ended
    here without waiting for the backend) and the operator ends with an error."""
    jobs, context = addon.client.session, bpy_module.context
    probe = _probe_class(addon, timeout=0.05)()
    job = probe._start(context)
    assert job is not None and job_state.running and jobs.active_jobs() == [job]
    time.sleep(0.1)
    assert probe.modal(context, TIMER) == {"CANCELLED"}
    assert job.cancelled and job.cancel_requested and not jobs.active_jobs()
    assert probe.reports == [({"ERROR"}, "Doctor gave no answer within 0.05 s; it was cancelled")]
    assert not job_state.running and "no answer within 0.05 s" in job_state.last_error


def test_the_modal_path_finishes_a_job_within_its_deadline(bpy_module, addon, backend_env, job_state):
    jobs, context = addon.client.session, bpy_module.context
    probe = _probe_class(addon, timeout=300)()
    job = probe._start(context)
    deadline = time.monotonic() + 120
    outcome = {"PASS_THROUGH"}
    while outcome == {"PASS_THROUGH"}:
        assert time.monotonic() < deadline, "Doctor did not finish"
        time.sleep(0.05)
        outcome = probe.modal(context, TIMER)
    assert outcome == {"FINISHED"}, probe.reports
    assert job.result.ok is True and probe.reports == [({"INFO"}, "Backend OK")]
    assert not jobs.active_jobs()


def test_doctor_is_greyed_out_while_a_job_runs_and_without_a_backend(
        bpy_module, addon, backend_env, job_state, monkeypatch):
    bpy = bpy_module
    assert bpy.ops.atelier.backend_doctor.poll()
    job_state.running = True
    assert not bpy.ops.atelier.backend_doctor.poll()
    with pytest.raises(RuntimeError, match="An Atelier job is running"):
        bpy.ops.atelier.backend_doctor()
    job_state.running = False
    monkeypatch.setenv("ATELIER_PYTHON", "/no/such/python")
    with pytest.raises(RuntimeError, match="Backend Python not found: /no/such/python"):
        bpy.ops.atelier.backend_doctor()


def test_unregister_ends_a_running_doctor(bpy_module, addon, backend_env):
    """Doctor runs as a job of the shared backend, so disabling the extension ends it with the
    backend: nothing keeps running, and no process of Doctor's own exists."""
    import addon_utils

    jobs, context = addon.client.session, bpy_module.context
    probe = _probe_class(addon, timeout=300)()
    job = probe._start(context)
    backend_process = jobs.current_client()._transport._process
    assert jobs.active_jobs() == [job]
    module = addon.__name__
    addon_utils.disable(module, default_set=True)
    try:
        assert jobs.current_client() is None and not jobs.active_jobs()
        assert backend_process.wait(30) is not None
        assert not hasattr(addon.operators.backend_control, "_doctor_process")
        assert not hasattr(bpy_module.types, "ATELIER_OT_backend_doctor")
    finally:
        addon_utils.enable(module, default_set=True)
        # What Blender's end of the modal operator does (the probe is not a real one).
        bpy_module.context.window_manager.atelier.property_unset("running")
    assert bpy_module.ops.atelier.backend_doctor() == {"FINISHED"}  # a fresh backend serves it


@pytest.mark.parametrize(("preference", "sent"), [
    ("stable-diffusion-v1-5/stable-diffusion-v1-5", "stable-diffusion-v1-5/stable-diffusion-v1-5"),
    ("builtin", ""),  # the built-in engine needs no GPU: the backend's own model is checked
])
def test_doctor_checks_the_texture_model_of_the_preferences(
        bpy_module, addon, monkeypatch, preference, sent):
    """Doctor's memory advice is about the model the artist's jobs will use."""
    monkeypatch.delenv("ATELIER_TEXTURE_MODEL", raising=False)
    prefs = addon.preferences.addon_preferences()
    before = prefs.texture_model
    prefs.texture_model = preference
    try:
        request = _probe_class(addon, timeout=1)().make_request(bpy_module.context, "d1")
    finally:
        prefs.texture_model = before
    assert request.texture_model == sent
