"""A bad fast-path setting in the real ``serve`` process: the texture job ends with a
``bad_request`` naming the variable, before any model loads, and the backend serves the next job."""

from __future__ import annotations

HARMONY = {"type": "palette", "id": "after-the-bad-setting", "source": "harmony", "harmony": "triadic",
           "base_color": "#336699", "count": 3}


def test_a_bad_fast_setting_fails_the_job_and_the_backend_serves_the_next(start_backend, texture_request):
    server = start_backend(env={"ATELIER_FAST": "fastest", "ATELIER_DEVICE": "cpu"})
    assert server.next_event()["type"] == "hello"
    job = texture_request()
    server.send(job)
    *before, error = server.events_for(job["id"])
    assert error["type"] == "error" and error["code"] == "bad_request", error
    assert "ATELIER_FAST" in error["message"] and "ATELIER_FAST" in error["hint"]
    assert [event["type"] for event in before] == ["accepted"]  # no step: it failed before loading

    server.send(HARMONY)
    assert server.events_for(HARMONY["id"])[-1]["type"] == "result"
    assert server.proc.poll() is None
