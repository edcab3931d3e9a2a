"""A chain of backend jobs on the UI's modal path (``BackendJobOperator.follow_up``): the maps job
starts when the texture job ends, only its result is applied, and one Esc cancels the chain."""

from __future__ import annotations

import time

from modal_events import ESC, TIMER


def probe_class(addon, tiny_sd, tiny_marigold, jobs_folder):
    """A plain-Python stand-in for a modal operator instance running texture, then maps."""
    protocol = addon.core.protocol
    results = addon.core.results

    class Probe(addon.operators.backend_operator.BackendJobOperator):
        bl_idname = "atelier.generate_texture"
        bl_label = "Chain"

        maps_steps = None  # the model's own (2 for the tiny one); more keeps the job running

        def __init__(self):
            self.reports, self.applied, self.released, self.labels = [], [], 0, []

        def make_request(self, context, request_id):
            return protocol.TextureRequest(id=request_id, prompt="slate", width=64, height=64, steps=1,
                                           seed=1, model=str(tiny_sd), device="cpu", output_dir=jobs_folder)

        def follow_up(self, context, result):
            if not isinstance(result, results.TextureResult):
                return None
            self.texture = result
            return protocol.MapsRequest(id="maps-" + result.id, image=str(result.base_color),
                                        maps=["normal"], model=str(tiny_marigold), device="cpu",
                                        steps=self.maps_steps, output_dir=jobs_folder)

        def apply_result(self, context, result):
            self.applied.append(type(result).__name__)
            addon.client.session.release(result.id)
            return "applied"

        def release_request(self, context):
            self.released += 1

        def job_label(self):
            return "maps" if getattr(self, "texture", None) else "texture"

        def report(self, kind, message):
            self.reports.append((kind, message))

    return Probe


def run_modal(probe, context, state, until=None, limit=120.0):
    deadline = time.monotonic() + limit
    outcome = {"PASS_THROUGH"}
    while outcome == {"PASS_THROUGH"}:
        assert time.monotonic() < deadline, "the chain did not end"
        if state.running:  # what the status bar shows before this tick (the first job's label first)
            probe.labels.append(state.job_label)
        if until is not None and until():
            return None
        time.sleep(0.05)
        outcome = probe.modal(context, TIMER)
    return outcome


def test_the_second_job_runs_before_anything_is_applied(bpy_module, addon, backend_env, tiny_marigold,
                                                         job_state):
    jobs_folder = addon.preferences.user_folder("jobs")
    probe = probe_class(addon, backend_env, tiny_marigold, jobs_folder)()
    context = bpy_module.context
    assert probe._start(context) is not None
    outcome = run_modal(probe, context, job_state)
    assert outcome == {"FINISHED"}, probe.reports
    assert probe.applied == ["MapsResult"]  # one apply, with the chain's last result
    assert probe.reports == [({"INFO"}, "applied")]
    assert probe.labels[0] == "texture" and probe.labels[-1] == "maps"
    assert not job_state.running and not addon.client.session.active_jobs()
    addon.client.session.release(probe.texture.id)


def test_one_esc_cancels_the_chain(bpy_module, addon, backend_env, tiny_marigold, job_state):
    jobs_folder = addon.preferences.user_folder("jobs")
    probe = probe_class(addon, backend_env, tiny_marigold, jobs_folder)()
    probe.maps_steps = 100  # still running when Esc comes
    context = bpy_module.context
    probe._start(context)
    run_modal(probe, context, job_state, until=lambda: getattr(probe, "texture", None) is not None)
    assert job_state.job_label == "maps"
    assert probe.modal(context, ESC) == {"RUNNING_MODAL"}
    outcome = run_modal(probe, context, job_state)
    assert outcome == {"CANCELLED"}
    assert probe.applied == [] and probe.released >= 1
    assert probe.reports == [({"WARNING"}, "maps: cancelled")]
    addon.client.session.release(probe.texture.id)
