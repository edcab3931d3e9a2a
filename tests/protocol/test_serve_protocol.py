"""(c) The protocol through the real ``serve`` process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fault_backend import FAULT_PAUSE_TIMES
from fault_points import pause_environment, resume, wait_paused

from core import protocol


def test_hello_comes_before_any_model_library_loads(start_backend):
    server = start_backend()
    hello = server.next_event(timeout=30)
    assert hello["type"] == "hello" and hello["protocol"] == protocol.PROTOCOL_VERSION
    assert "texture" in hello["capabilities"] and "cancel" in hello["capabilities"]
    assert hello["limits"]["max_size"] == 2048
    assert hello["pid"] == server.proc.pid
    # torch is imported on the first job, not before hello (bench/ times the start precisely).
    maps = Path(f"/proc/{server.proc.pid}/maps")
    if maps.exists():  # Linux: the shared libraries the process has loaded
        assert "libtorch" not in maps.read_text()
    server.send({"type": "ping", "id": "p"})
    assert server.next_event() == {"type": "pong", "id": "p"}


@pytest.fixture
def counting_loads(start_backend, tmp_path):
    """A backend that stops at its first model load (resumed at once) and again at a second
    one: a job that finds the model warm never stops there."""
    pause_file = tmp_path / "loading"
    server = start_backend(env={**pause_environment("load", pause_file), FAULT_PAUSE_TIMES: "2"}, faults=True)
    return server, pause_file


def first_load(server, pause_file: Path, request: dict) -> dict:
    """Run ``request``, the job that loads the model (resumed from its pause); its final event."""
    server.send(request)
    assert wait_paused(pause_file) == server.proc.pid
    resume(pause_file)
    return server.events_for(request["id"])[-1]


def warm(server, pause_file: Path, request: dict) -> dict:
    """Run ``request``, which must find its model loaded (a load would stop the backend there,
    and no final event would come); its final event."""
    final = server.request(request)
    assert not pause_file.exists(), "the job loaded its model again"
    return final


def test_second_job_reuses_the_loaded_model(counting_loads, texture_request, tiny_sd, tmp_path):
    server, pause_file = counting_loads
    model = shutil.copytree(tiny_sd, tmp_path / "model")
    assert first_load(server, pause_file, texture_request(model=str(model)))["type"] == "result"
    second = warm(server, pause_file, texture_request(model=str(model)))
    assert second["type"] == "result", second
    assert second["metadata"]["model_source"] == str(model.resolve())


def test_a_missing_model_leaves_the_loaded_one_warm(counting_loads, texture_request, tiny_sd, tmp_path):
    server, pause_file = counting_loads
    model = shutil.copytree(tiny_sd, tmp_path / "model")
    assert first_load(server, pause_file, texture_request(model=str(model)))["type"] == "result"
    misspelt = warm(server, pause_file, texture_request(model=str(tmp_path / "modle")))
    assert misspelt["type"] == "error" and misspelt["code"] == "model_missing", misspelt
    again = warm(server, pause_file, texture_request(model=str(model)))
    assert again["type"] == "result", again


def test_events_of_a_job_arrive_in_order(backend, texture_request):
    job = texture_request(steps=3)
    backend.send(job)
    events = backend.events_for(job["id"])
    assert [e["type"] for e in events] == ["accepted", "progress", "progress", "progress", "result"]
    assert [(e["step"], e["total"]) for e in events[1:4]] == [(1, 3), (2, 3), (3, 3)]


def test_cancel_stops_a_running_job_before_its_last_step(backend, texture_request):
    job = texture_request(steps=150, width=128, height=128)
    backend.send(job)
    backend.wait_for_progress(job["id"])
    backend.send({"type": "cancel", "id": "c1", "job": job["id"]})
    rest = backend.events_for(job["id"])
    assert rest[-1]["type"] == "error" and rest[-1]["code"] == "cancelled"
    steps = [e["step"] for e in rest if e["type"] == "progress"]
    assert not steps or steps[-1] < 150
    assert backend.request(texture_request())["type"] == "result"


def test_cancel_drops_a_queued_job_at_once(backend, texture_request):
    running = texture_request(steps=150, width=128, height=128)  # still running when the cancel comes
    queued = texture_request()
    backend.send(running)
    backend.wait_for_progress(running["id"])  # so it cannot end before the cancel arrives
    backend.send(queued)
    backend.send({"type": "cancel", "id": "c2", "job": queued["id"]})
    queued_events = backend.events_for(queued["id"])
    assert [e["type"] for e in queued_events] == ["accepted", "error"]
    assert queued_events[0]["position"] == 1 and queued_events[-1]["code"] == "cancelled"
    assert backend.events_for(running["id"])[-1]["type"] == "result"


def test_cancel_of_an_unknown_job_is_an_error(backend):
    final = backend.request({"type": "cancel", "id": "c3", "job": "never-sent"})
    assert final["type"] == "error" and final["code"] == "bad_request"


def test_malformed_lines_get_errors_and_the_server_goes_on(backend, texture_request):
    for line in ("this is not json", "[1, 2]", '{"type": "paint", "id": "x"}', '{"id": "no-type"}',
                 '{"type": "texture", "id": "nan", "guidance": NaN}',
                 "[" * 100_000,  # deeper than any parser recursion
                 '{"type": "ping", "id": "\\udfff"}',  # a lone surrogate: no UTF-8 line could answer it
                 '{"type": "ping", "id": "p", "\\ud800": 1}'):
        backend.send(line)
        event = backend.next_event()
        assert event["type"] == "error" and event["code"] == "bad_request", (line, event)
        assert event["message"]
    backend.proc.stdin.write(b"\xff\xfe not utf-8\n")
    backend.proc.stdin.flush()
    assert backend.next_event()["code"] == "bad_request"
    assert backend.request(texture_request())["type"] == "result"


def test_unload_drops_models_and_the_next_job_loads_again(backend, texture_request):
    assert backend.request(texture_request())["type"] == "result"
    unloaded = backend.request({"type": "unload", "id": "u1"})
    assert unloaded["type"] == "result" and unloaded["data"]["unloaded"] >= 1
    assert backend.request(texture_request())["type"] == "result"


def test_shutdown_exits_cleanly(start_backend):
    server = start_backend()
    assert server.next_event()["type"] == "hello"
    server.send({"type": "shutdown", "id": "bye"})
    assert server.proc.wait(30) == 0
    assert server.next_event() is None


def test_exits_when_stdin_closes(start_backend):
    server = start_backend()
    assert server.next_event()["type"] == "hello"
    server.proc.stdin.close()
    assert server.proc.wait(30) == 0


def test_exits_when_stdin_closes_mid_job(start_backend, texture_request):
    """A crashed Blender closes the pipe: running and queued jobs end, the process goes."""
    server = start_backend()
    assert server.next_event()["type"] == "hello"
    running, queued = texture_request(steps=150, width=128, height=128), texture_request()
    server.send(running)
    server.send(queued)
    event = server.next_event()
    while event["type"] != "progress":
        event = server.next_event()
    server.proc.stdin.close()
    assert server.proc.wait(30) == 0
    rest = [event]
    while (event := server.next_event()) is not None:
        rest.append(event)
    assert any(e.get("id") == queued["id"] and e.get("code") == "cancelled" for e in rest)
    ended = [e for e in rest if e.get("id") == running["id"] and e["type"] in ("result", "error")]
    assert ended and ended[-1]["code"] == "cancelled"
    assert len([e for e in rest if e["type"] == "progress"]) < 150


def test_stdout_carries_protocol_lines_only(backend, texture_request):
    """Libraries print and warn while loading; none of it may reach stdout."""
    assert backend.request({"type": "unload", "id": "u2"})["type"] == "result"
    job = texture_request()
    backend.send(job)
    events = backend.events_for(job["id"])  # every line read on the way is checked to be an event
    assert events[-1]["type"] == "result"


@pytest.mark.parametrize("request_fields", [
    {"type": "palette", "source": "prompt", "prompt": "rainy neon alley"},
    {"type": "ideas", "prompt": "a reading nook"},
    {"type": "texture", "prompt": "brick"},
])
@pytest.mark.parametrize("seed", [-1, 2**31])
def test_every_task_refuses_a_seed_out_of_range_before_any_work(backend, request_fields, seed):
    request_id = f"{request_fields['type']}-seed{seed}"
    final = backend.request({**request_fields, "id": request_id, "seed": seed, "model": "no/such-model"})
    assert final["type"] == "error" and final["code"] == "bad_request", final
    assert "seed must be between 0 and 2147483647" in final["message"]


def test_an_id_is_free_again_as_soon_as_its_job_has_ended(backend):
    """Ids are unique among queued and running jobs: once the final event is out, reuse is fine."""
    harmony = {"type": "palette", "id": "again", "source": "harmony", "harmony": "triadic",
               "base_color": "#336699", "count": 3}
    refused = {"type": "palette", "id": "again", "source": "prompt", "prompt": "x", "seed": -1}
    for _ in range(25):  # a result, then an error: both free the id before the client reads them
        assert backend.request(harmony)["type"] == "result"
        assert "seed must be" in backend.request(refused)["message"]
