"""``atelier.batch_textures`` on the UI's path: timers never fire under the bpy module, so the
tests tick the operator themselves. Every item shows its progress and is applied as it ends;
Esc or the Cancel button cancels every job; an item that cannot be applied fails alone."""

from __future__ import annotations

import json
import os
import time

import panel_recorder
import pytest
from modal_events import ESC, TIMER

from core import schema

OPERATOR_DEFAULTS = dict(source="SELECTED", filepath="", prompt_from="NAME", prompt="",
                         property_name="atelier_prompt", variations=1, seed=-1, maps=set(), style="",
                         report_path="")


def batch_probe(addon, **properties):
    """A plain-Python stand-in for a running ``atelier.batch_textures`` (Blender's operator
    instances cannot be made by hand): the operator's own methods on a recording object."""
    operator = addon.operators.batch.ATELIER_OT_batch_textures

    class Probe:
        bl_idname = operator.bl_idname
        (_start, tick, modal, cancel, cancel_all, finish, _show_progress, _stop_modal,
         _report_error, _refused, _write_report) = (
            operator._start, operator.tick, operator.modal, operator.cancel, operator.cancel_all,
            operator.finish, operator._show_progress, operator._stop_modal, operator._report_error,
            operator._refused, operator._write_report)
        _report_file = ""

        def __init__(self):
            for name, value in {**OPERATOR_DEFAULTS, **properties}.items():
                setattr(self, name, value)
            self._run = self._timer = None
            self.reports = []

        def report(self, kind, message):
            self.reports.append((kind, message))

    return Probe()


def tick_until(probe, context, done=lambda: False, limit=120.0, seen=None) -> set[str]:
    """Tick until ``done()`` or the batch ends; ``seen`` collects every item's status per tick."""
    deadline = time.monotonic() + limit
    outcome = {"PASS_THROUGH"}
    while outcome == {"PASS_THROUGH"} and not done():
        assert time.monotonic() < deadline, f"the batch did not get there: {probe.reports}"
        time.sleep(0.02)
        outcome = probe.modal(context, TIMER)
        if seen is not None:
            seen.append({row.name: row.status for row in context.window_manager.atelier.batch_items})
    return outcome


def test_every_item_shows_its_progress_and_is_applied_as_it_ends(bpy_module, addon, objects, batch_scene,
                                                                 job_state):
    context = bpy_module.context
    settings = batch_scene.atelier.texture
    settings.width = settings.height = 128
    settings.steps = 40  # each job lasts many ticks: every state shows on some tick
    made = objects("Slate", "Moss", "Rust")
    probe = batch_probe(addon, seed=4)
    assert probe._start(context) is not None
    assert job_state.running and job_state.job_operator == "atelier.batch_textures"
    assert [(row.name, row.status) for row in job_state.batch_items] == [
        ("Slate", "QUEUED"), ("Moss", "QUEUED"), ("Rust", "QUEUED")]
    assert len(addon.client.session.active_jobs()) == 2  # the local backend's limit; Rust follows
    # The Batch panel: the batch's bar and Cancel in place of the button, then a bar per item.
    calls = panel_recorder.draw(bpy_module, addon.panels.batch.ATELIER_PT_batch)
    assert not panel_recorder.operator_settings(calls, "atelier.batch_textures")
    bars = [kwargs["text"] for name, args, kwargs in calls if name == "progress"]
    assert len(bars) == 4 and bars[1:] == ["queued"] * 3
    assert {"Slate", "Moss", "Rust"} <= set(panel_recorder.labels(calls))
    seen, fractions = [], []
    outcome = {"PASS_THROUGH"}
    deadline = time.monotonic() + 120
    while outcome == {"PASS_THROUGH"}:
        assert time.monotonic() < deadline, probe.reports
        outcome = probe.modal(context, TIMER)
        seen.append({row.name: row.status for row in job_state.batch_items})
        fractions.append(job_state.progress)
        time.sleep(0.02)
    assert outcome == {"FINISHED"}, probe.reports
    assert probe.reports == [({"INFO"}, "Batch: 3 of 3 item(s) done")]
    # The first item was on its object while the last still waited: applied as each ended.
    assert any(tick["Slate"] == "DONE" and tick["Rust"] in ("QUEUED", "RUNNING") for tick in seen), seen
    assert any(tick["Moss"] == "RUNNING" for tick in seen), seen
    assert any(0.0 < fraction < 1.0 for fraction in fractions), fractions
    assert [obj.active_material.name for obj in made] == ["Slate", "Moss", "Rust"]
    assert [(row.status, row.progress) for row in job_state.batch_items] == [("DONE", 1.0)] * 3
    assert not job_state.running and not addon.client.session.active_jobs()
    calls = panel_recorder.draw(bpy_module, addon.panels.batch.ATELIER_PT_batch)
    assert panel_recorder.operator_settings(calls, "atelier.batch_textures") == [{}]  # the button is back
    assert panel_recorder.labels(calls)[-6:] == ["Slate", "done", "Moss", "done", "Rust", "done"]


@pytest.mark.parametrize("how", ["esc", "cancel button"])
def test_cancel_ends_every_job_and_the_backend_serves_on(bpy_module, addon, objects, batch_scene, job_state,
                                                         how):
    bpy, context, jobs = bpy_module, bpy_module.context, addon.client.session
    settings = batch_scene.atelier.texture
    # Long enough (512 px, 150 steps: seconds on one thread) that the first job is still
    # running when the cancel comes, however loaded the machine is.
    settings.width = settings.height = 512
    settings.steps = 150
    made = objects("One", "Two", "Three")
    probe = batch_probe(addon)
    probe._start(context)
    rows = job_state.batch_items
    assert tick_until(probe, context, lambda: rows[0].status == "RUNNING") == {"PASS_THROUGH"}
    if how == "esc":
        assert probe.modal(context, ESC) == {"RUNNING_MODAL"}  # Esc is the batch's, not the view's
        assert job_state.stage == "cancelling"
    else:  # cancels the jobs in flight; the batch cancels the rest, the one never sent too
        assert bpy.ops.atelier.cancel_job() == {"FINISHED"}
    assert tick_until(probe, context) == {"CANCELLED"}
    assert probe.reports == [({"WARNING"}, "Batch: 0 of 3 item(s) done, 3 cancelled")]
    assert [row.status for row in job_state.batch_items] == ["CANCELLED"] * 3
    assert all(obj.active_material is None for obj in made) and len(bpy.data.images) == 0
    assert not jobs.active_jobs() and not job_state.running
    assert os.listdir(addon.preferences.user_folder("jobs")) == []  # no job folder is left
    settings.width = settings.height = 64
    settings.steps = 2
    assert bpy.ops.atelier.batch_textures() == {"FINISHED"}
    assert [obj.active_material.name for obj in made] == ["One", "Two", "Three"]


@pytest.mark.parametrize("background", [False, True])
def test_an_item_that_cannot_be_applied_fails_alone(bpy_module, addon, objects, batch_scene, job_state,
                                                    tmp_path, monkeypatch, background):
    """In the UI what was applied stays one undo step (FINISHED, the failure as a warning); a
    script under ``blender -b`` gets CANCELLED and an error."""
    bpy, context = bpy_module, bpy_module.context
    monkeypatch.setattr(addon.operators.batch, "in_background", lambda: background)
    kept, gone = objects("Kept", "Gone")
    probe = batch_probe(addon, report_path=str(tmp_path / "report.json"))
    probe._start(context)
    bpy.data.objects.remove(gone)  # while its job is queued
    assert tick_until(probe, context) == ({"CANCELLED"} if background else {"FINISHED"})
    ((kind, message),) = probe.reports
    assert kind == ({"ERROR"} if background else {"WARNING"})
    assert message.startswith("Batch: 1 of 2 item(s) done, 1 failed; report ")
    assert "not made: Gone: the target object(s) Gone no longer exist" in message
    assert kept.active_material.name == "Kept" and "Gone" not in bpy.data.images
    assert job_state.last_error == message
    assert [row.status for row in job_state.batch_items] == ["DONE", "FAILED"]


def test_blender_ending_the_operator_applies_nothing_more(bpy_module, addon, objects, batch_scene,
                                                          job_state, tmp_path):
    bpy, context, jobs = bpy_module, bpy_module.context, addon.client.session
    batch_scene.atelier.texture.steps = 60  # the first job still runs when Blender ends the batch
    made = objects("First", "Second", "Third")
    report_file = tmp_path / "report.json"
    report_file.write_text("an older report")  # replaced
    probe = batch_probe(addon, report_path=str(report_file))
    run = probe._start(context)
    first_runs = tick_until(probe, context, lambda: job_state.batch_items[0].status == "RUNNING")
    assert first_runs == {"PASS_THROUGH"}
    probe.cancel(context)
    assert run.finished and not jobs.active_jobs() and not job_state.running
    report = json.loads(report_file.read_text())  # written as Blender ended it
    assert schema.problems(report, schema.cached("batch_report.json")) == []
    assert [item["status"] for item in report["items"]] == ["cancelled"] * 3
    # The backend still answers the abandoned jobs; a batch after them waits behind those
    # answers, which arrive and are dropped: none of them lands on an object.
    for obj in made:
        obj.select_set(False)
    (late,) = objects("Late")
    assert bpy.ops.atelier.batch_textures() == {"FINISHED"}
    run.advance(context)
    assert all(obj.active_material is None for obj in made) and late.active_material.name == "Late"
    assert len(bpy.data.images) == 1
    assert os.listdir(addon.preferences.user_folder("jobs")) == []  # the abandoned jobs' folders too
