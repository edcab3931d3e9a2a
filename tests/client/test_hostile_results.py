"""Hostile answers from a backend: a result line the client cannot decode, numbers too large to
use, a backend that goes silent. Each ends the job at once with a clear error, also in the
background, where an operator waits for its job; nothing is applied and the scene is unchanged.

The stand-in backend (``conftest.py``) writes whatever the test plans.
"""

import json
import threading
import time

import pytest
from blender_helpers import mesh_object
from scene_state import scene_state

DEEP = "[" * 100_000 + "]" * 100_000
BIG = "1" + "0" * 400  # a whole number no double holds
HUGE = "1" + "0" * 5000  # past Python's limit for turning digits into an int

# Result lines that are not JSON the client can read, each naming its job: the id is there, but
# the line is refused before the id is read. (what, line, what the error says)
UNREADABLE = [
    ("a NaN", '{"type": "result", "id": "{id}", "files": [], "metadata": {}, "data": {"guidance": NaN}}',
     "NaN is not allowed"),
    ("a line cut short", '{"type": "result", "id": "{id}", "files": [{"role": "base_', "not a JSON line"),
    ("nesting 100,000 levels deep", '{"type": "result", "id": "{id}", "data": ' + DEEP + "}",
     "nested more than 32 levels deep"),
    ("a number of 5000 digits", '{"type": "result", "id": "{id}", "data": {"seed": ' + HUGE + "}}",
     "a number has too many digits (more than 4300)"),
]


def _submit(addon, prompt="x"):
    jobs, protocol = addon.client.session, addon.core.protocol
    client = jobs.client_for(addon.preferences.backend_config(jobs.EXTENSION_DIR))
    request = protocol.TextureRequest(id=jobs.new_request_id(), prompt=prompt, width=64, height=64,
                                      model="standin", output_dir=addon.preferences.user_folder("jobs"))
    return client, jobs.submit(client, request)


@pytest.mark.parametrize("what, line, says", UNREADABLE, ids=[case[0] for case in UNREADABLE])
def test_an_unreadable_result_line_ends_its_job_at_once(addon, standin, what, line, says):
    standin(raw_result=line)
    jobs = addon.client.session
    client, job = _submit(addon)
    started = time.monotonic()
    jobs.wait(client, job, timeout=20)
    assert time.monotonic() - started < 10, "the job waited for an answer that never came"
    assert job.error is not None and job.error.code == "invalid_output", job.error
    assert "the backend's answer cannot be read" in job.error.message and says in job.error.message
    assert client.running()  # the backend itself is fine: the next job can run


# A result line cut short before its "id": it names no job, and any job's answer may be the
# one that broke, so the stream cannot be trusted.
CUT_BEFORE_ID = '{"type": "result", "fi'


def test_a_line_cut_before_its_id_ends_every_job_in_flight_and_stops_the_backend(addon, standin):
    jobs = addon.client.session
    standin(silent=True)
    client, quiet = _submit(addon, "quiet")  # accepted, then never answered
    deadline = time.monotonic() + 10
    while quiet.stage != "running" and time.monotonic() < deadline:  # read with the silent plan
        jobs.drain(client, timeout=0.2)
    standin(raw_result=CUT_BEFORE_ID)
    _, cut = _submit(addon, "cut")
    started = time.monotonic()
    jobs.wait(client, cut, timeout=20)
    assert time.monotonic() - started < 10, "the job waited for an answer that never came"
    jobs.drain(client)
    for job in (quiet, cut):
        assert job.error is not None and job.error.code == "invalid_output", job.error
        assert "the backend's answer cannot be read (not a JSON line" in job.error.message
        assert "names no job, so the stream cannot be trusted" in job.error.message
    assert not client.running() and not jobs.active_jobs()

    standin(write_inside=True)  # the next job starts a fresh backend and lands
    _, fresh = _submit(addon, "fresh")
    jobs.wait(client, fresh, timeout=20)
    assert fresh.error is None and fresh.result is not None, fresh.error


def test_an_unreadable_result_fails_the_operator_in_the_background(addon, bpy_module, standin,
                                                                    monkeypatch):
    monkeypatch.setattr(addon.client.session, "SILENCE_SECONDS", 15.0)  # a regression fails, not hangs
    standin(raw_result=UNREADABLE[0][1])
    mesh_object(bpy_module)
    before = scene_state(bpy_module)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the backend.s answer cannot be read: .*NaN is not allowed"):
        bpy_module.ops.atelier.generate_texture(prompt="x", model="standin", width=64, height=64)
    assert time.monotonic() - started < 10
    assert scene_state(bpy_module) == before


@pytest.mark.parametrize("parameters, says", [
    ({"guidance": int(BIG)}, "'guidance' must be a finite number"),
    ({"seed": int(BIG)}, "'seed' must be a whole number from 0 to 2147483647"),
    ({"width": -8}, "'width' must be a whole number from 0"),
], ids=["a 400-digit guidance", "a 400-digit seed", "a negative width"])
def test_a_number_too_large_to_use_ends_the_job_with_a_clear_error(addon, bpy_module, standin,
                                                                    parameters, says):
    standin(write_inside=True, parameters=parameters)
    mesh_object(bpy_module)
    before = scene_state(bpy_module)
    with pytest.raises(RuntimeError, match=f"the backend's result cannot be used: the result's {says}"):
        bpy_module.ops.atelier.generate_texture(prompt="x", model="standin", width=64, height=64)
    assert scene_state(bpy_module) == before


def test_a_record_number_blender_cannot_hold_stays_in_the_record_only(addon, bpy_module, standin):
    # The data says seed 7; the provenance record, which Blender stores, says 2**40: a custom
    # property holds a C int, so only the JSON record keeps it.
    standin(write_inside=True, override={"metadata": {
        "schema": "atelier.provenance/1", "task": "texture", "engine": "standin", "model": "standin",
        "parameters": {"seed": 2**40, "steps": 1}, "versions": {}}})
    mesh_object(bpy_module)
    assert bpy_module.ops.atelier.generate_texture(prompt="x", model="standin", width=64,
                                                   height=64) == {"FINISHED"}
    image = bpy_module.data.images["x"]
    assert json.loads(image["atelier_provenance"])["parameters"]["seed"] == 2**40
    assert "atelier_seed" not in image and image["atelier_steps"] == 1


def test_a_silent_backend_is_stopped_and_the_wait_ends(addon, bpy_module, standin, monkeypatch):
    jobs = addon.client.session
    monkeypatch.setattr(jobs, "SILENCE_SECONDS", 2.0)
    standin(silent=True)
    # As an operator waits in the background (no timeout of its own); in a thread, so that a
    # wait without a deadline fails this test instead of hanging it.
    client, job = _submit(addon)
    waiting = threading.Thread(target=jobs.wait, args=(client, job), daemon=True)
    waiting.start()
    waiting.join(timeout=15)
    assert not waiting.is_alive(), "the wait has no deadline"
    assert job.error is not None and job.error.code == "backend_exited", job.error
    assert not client.running() and not jobs.active_jobs()

    mesh_object(bpy_module)
    before = scene_state(bpy_module)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the backend said nothing for 2 s while .* waited, so it "
                                           "was stopped as hung"):
        bpy_module.ops.atelier.generate_texture(prompt="x", model="standin", width=64, height=64)
    assert time.monotonic() - started < 10
    assert scene_state(bpy_module) == before
