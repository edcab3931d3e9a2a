"""``atelier.batch_textures`` with its backend SIGKILLed mid-batch at a drawn point
(``killed_jobs``), on the UI's modal path: the item whose job had begun fails within 2 s of the
kill with a message that says the backend stopped and what to do; the batch goes on with a
fresh backend (a job waiting its turn is sent again), so every other item is made; the failed
item has no material, and nothing is left in the jobs folder or the backend's TMPDIR."""

from __future__ import annotations

import time

import pytest
from blend_jobs import operator_probe
from blender_helpers import mesh_object
from killed_jobs import (
    REPORTED_WITHIN,
    SEED,
    STOPPED,
    WHAT_TO_DO,
    check_nothing_left,
    check_reaped,
    draw,
    kill_paused,
    private_tmp,
)
from modal_events import TIMER

NAMES = ("First", "Second", "Third")
STEPS = 4
POINTS = draw("batch_textures", steps=STEPS, files=len(NAMES), count=2)


@pytest.mark.parametrize("point", POINTS, ids=[f"seed{SEED}-{p}" for p in POINTS])
def test_batch_killed(bpy_module, addon, clean_scene, fault_armed_backend, monkeypatch, tmp_path, point):
    bpy, context = bpy_module, bpy_module.context
    settings = clean_scene.atelier.texture
    settings.width = settings.height = 64
    settings.steps = STEPS
    for made in [mesh_object(bpy, name) for name in NAMES]:
        made.select_set(True)
    backend_tmp = private_tmp(monkeypatch, tmp_path)
    pause_file = fault_armed_backend(point)
    probe = operator_probe(bpy, addon.operators.batch.ATELIER_OT_batch_textures, seed=4)
    assert probe._start(context) is not None, probe.reports
    run = probe._run
    outcome, pid, killed_at, failed_at = {"PASS_THROUGH"}, None, None, None
    deadline = time.monotonic() + 150
    while outcome == {"PASS_THROUGH"}:
        assert time.monotonic() < deadline, probe.reports
        if pid is None and pause_file.exists():
            pid, killed_at = kill_paused(pause_file, monkeypatch)
        time.sleep(0.02)
        outcome = probe.modal(context, TIMER)
        if failed_at is None and any(o.status == "failed" for o in run.outcomes):
            failed_at = time.monotonic()
    pid = pid or kill_paused(pause_file, monkeypatch)[0]  # paused after the batch's last result
    statuses = [o.status for o in run.outcomes]
    case = f"seed {SEED}, killed at {point}: {statuses} {probe.reports}"
    failed = [o for o in run.outcomes if o.status == "failed"]
    assert len(failed) <= 1 and statuses.count("done") == len(NAMES) - len(failed), case
    for item in run.outcomes:
        material = bpy.data.objects[item.object].active_material
        assert (material is None) == (item.status == "failed"), case
    if failed:
        assert killed_at is not None and failed_at - killed_at < REPORTED_WITHIN, case
        assert STOPPED in failed[0].error and WHAT_TO_DO in failed[0].error, case
        ((kind, message),) = probe.reports
        assert kind == {"ERROR"} and f"{failed[0].object}: {STOPPED}" in message, case
    else:  # killed between a result and the next job: nothing lost, the rest ran on a fresh backend
        assert point == "result" and outcome == {"FINISHED"}, case
    check_reaped(pid)
    check_nothing_left(addon.preferences.user_folder("jobs"), backend_tmp)
