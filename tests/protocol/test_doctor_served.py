"""The ``doctor`` request through the real ``serve`` process, and the checks' report callback."""

from __future__ import annotations

import pytest

from core import texture_models
from core.families import DEFAULT_TEXTURE_MODEL

STAGES = ["libraries", "devices", "texture model memory", "texture end to end", "text end to end"]


def test_doctor_request_answers_with_a_report_that_everything_works(backend):
    events = backend.events_for(_send(backend, "doctor-ok", device="cpu"))
    assert events[0] == {"type": "accepted", "id": "doctor-ok", "position": 0}
    progress = [e for e in events if e["type"] == "progress"]
    assert [e["stage"] for e in progress] == [*STAGES, "done"]
    assert [(e["step"], e["total"]) for e in progress] == [(i, 5) for i in range(6)]
    result = events[-1]
    assert result["type"] == "result", result
    assert result["files"] == [] and result["metadata"] == {}
    assert result["data"]["ok"] is True
    report = result["data"]["report"]
    assert "torch" in report and "CUDA" in report and "MPS" in report
    assert "device 'cpu' resolves to: cpu" in report
    # On the CPU there is no GPU memory to check: said, not failed.
    assert texture_models.gpu_memory_advice(DEFAULT_TEXTURE_MODEL, None) in report.splitlines()
    assert "end-to-end texture on cpu (float32): ok" in report
    assert "end-to-end text on cpu (float32): ok" in report and "schema-valid JSON" in report
    assert report.splitlines()[-1] == "doctor: everything works"


def test_a_broken_environment_is_a_result_saying_what_to_fix(backend):
    result = backend.events_for(_send(backend, "doctor-broken", device="tpu"))[-1]
    assert result["type"] == "result", result
    assert result["data"]["ok"] is False
    lines = result["data"]["report"].splitlines()
    assert lines[-2] == "doctor: BROKEN: unknown device 'tpu'" and lines[-1].startswith("hint: use one of")
    assert "end-to-end" not in result["data"]["report"]
    backend.send({"type": "ping", "id": "after-broken"})  # the server serves on
    assert backend.next_event() == {"type": "pong", "id": "after-broken"}


def test_a_cancelled_doctor_ends_with_cancelled_and_the_server_serves_on(backend):
    request_id = _send(backend, "doctor-cancel", device="cpu")
    backend.wait_for_progress(request_id)
    backend.send({"type": "cancel", "id": "c-doctor", "job": request_id})
    events = backend.events_for(request_id)
    assert events[-1]["type"] == "error" and events[-1]["code"] == "cancelled", events[-1]
    assert not any(e["type"] == "result" for e in events)
    stages = [e["stage"] for e in events if e["type"] == "progress"]
    assert "done" not in stages and len(stages) < len(STAGES) + 1
    backend.send({"type": "ping", "id": "after-cancel"})
    assert backend.next_event() == {"type": "pong", "id": "after-cancel"}


def test_the_checks_report_through_say_and_never_print(capsys):
    """In ``serve`` stdout is the protocol: the checks write only through ``say``; a cancel
    between checks stops them."""
    from backend import doctor
    from core.errors import Cancelled

    said, progress = [], []

    def stop_before_the_texture(step, total, stage):
        progress.append((step, total, stage))
        if stage == "texture end to end":
            raise Cancelled()

    with pytest.raises(Cancelled):
        doctor.run_checks(lambda line, problem=False: said.append((line, problem)), device="cpu",
                          before_check=stop_before_the_texture)
    assert progress == [(0, 5, "libraries"), (1, 5, "devices"), (2, 5, "texture model memory"),
                        (3, 5, "texture end to end")]
    assert said[0][0].startswith("Atelier backend ") and ("device 'cpu' resolves to: cpu", False) in said
    assert not any(problem for _, problem in said)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("requested", "checked"), [
    ("", "stabilityai/sd-turbo"),  # ATELIER_TEXTURE_MODEL over the default
    ("stabilityai/sdxl-turbo", "stabilityai/sdxl-turbo"),  # the request (Blender's preference) first
])
def test_the_memory_check_names_the_configured_texture_model(monkeypatch, requested, checked):
    """The model a texture job would use is the one checked; with no CUDA GPU the line says so
    and the check passes."""
    from backend import doctor
    from core.errors import Cancelled

    monkeypatch.setenv("ATELIER_TEXTURE_MODEL", "stabilityai/sd-turbo")
    said = []

    def stop_after_the_memory_check(step, total, stage):
        if stage == "texture end to end":
            raise Cancelled()

    with pytest.raises(Cancelled):
        doctor.run_checks(lambda line, problem=False: said.append(line), device="cpu",
                          before_check=stop_after_the_memory_check, texture_model=requested)
    assert said[-1] == texture_models.gpu_memory_advice(checked, None)
    assert said[-1].startswith(f"texture model {checked}: no CUDA GPU")


def test_the_command_and_the_served_task_share_one_run_request():
    """No import circle: ``cli`` and ``doctor`` both take ``run_request`` from ``server``."""
    from backend import cli, doctor, server

    assert cli.run_request is server.run_request
    assert "run_request" not in vars(doctor)  # imported where it is used, from server
    assert "from .server import run_request" in open(doctor.__file__, encoding="utf-8").read()


def _send(backend, request_id: str, **fields) -> str:
    backend.send({"type": "doctor", "id": request_id, **fields})
    return request_id
