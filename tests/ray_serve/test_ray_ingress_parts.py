"""The ingress's pieces without a server: how a worker's failure is reported, how result files
are kept, when it takes no more jobs, which requests it refuses, and that every handler runs on
the event loop (the registry is never touched from a thread pool)."""

import inspect
import json
import os
from types import SimpleNamespace

import pytest
from ray.exceptions import ActorDiedError, RayTaskError

from backend.ray_serve import ingress, vetting
from backend.ray_serve.auth import token_hash
from backend.ray_serve.jobs import Registry
from core import protocol

INGRESS = ingress.Ingress.func_or_class  # the class Serve deploys


@pytest.fixture
def job(tmp_path):
    return Registry(tmp_path).create(token_hash("token-a"), "r1")


def result_item(role="base_color", fmt="png", path="/server/tmp/job-x/out/anything.png") -> dict:
    event = protocol.ResultEvent(id="worker-id", files=[protocol.ResultFile(role, path, fmt)])
    return {"line": protocol.encode(event), "files": [{"role": role, "format": fmt, "data": b"PNG"}]}


def test_a_result_file_is_kept_as_role_dot_format(job):
    event, saved = INGRESS._keep(None, job, result_item())
    assert event.id == "r1" and event.files[0].path == "base_color.png"
    assert (job.folder / "base_color.png").read_bytes() == b"PNG"
    assert saved == {"base_color": job.folder / "base_color.png"} and not job.files  # set by the loop


@pytest.mark.parametrize(("role", "fmt"), [("../../escape", "png"), ("base_color", "png/../x"), ("x", "png")])
def test_a_result_file_with_an_unknown_role_or_format_is_not_kept(job, role, fmt):
    event, saved = INGRESS._keep(None, job, result_item(role, fmt))
    assert event.code == "internal" and "cannot keep" in event.message
    assert not saved and not any(job.folder.iterdir())


def test_a_full_disk_while_saving_results_is_a_clear_error(job):
    os.symlink("/dev/full", job.folder / "base_color.png")  # every write there fails with ENOSPC
    event, saved = INGRESS._keep(None, job, result_item())
    assert event.code == "internal" and "ran out of disk space" in event.message and event.hint
    assert not saved


def test_a_replica_that_died_is_backend_exited(job):
    event = INGRESS._failure(None, job, ActorDiedError())
    assert event.code == "backend_exited" and event.hint
    assert event.message == "the replica running the job stopped before the job ended"


def test_a_job_that_raised_is_internal_with_the_causes_first_line_without_colours(job):
    cause = ValueError("\x1b[31mthe input is broken\x1b[0m\n  File 'x', line 1 (pid=123, actor_id=abc)")
    failure = RayTaskError("run", "\x1b[36mray::ServeReplica (pid=4242)\x1b[0m traceback", cause)
    event = INGRESS._failure(None, job, failure)
    assert event.code == "internal"
    assert event.message == "the job failed on the server: ValueError: the input is broken"
    assert "\x1b" not in event.message + event.hint and "stopped" not in event.message


def test_a_cancelled_job_says_cancelled(job):
    job.cancelled = True
    assert INGRESS._failure(None, job, ActorDiedError()).code == "cancelled"


def test_one_token_cannot_take_every_place(tmp_path):
    registry = Registry(tmp_path)
    a, b = token_hash("token-a"), token_hash("token-b")
    server = SimpleNamespace(_registry=registry, _max_unfinished=4, _max_per_token=2,
                             _max_waiting_bytes=1000)
    for n in range(2):
        registry.create(a, f"a{n}", upload_bytes=100)
    assert "this token already has 2 jobs" in INGRESS._busy(server, a, 10)
    assert INGRESS._busy(server, b, 10) == ""  # another user still gets in
    assert "MiB of uploads" in INGRESS._busy(server, b, 801)
    registry.create(b, "b0")
    registry.create(b, "b1")
    assert "the server already has 4 jobs" in INGRESS._busy(server, token_hash("token-c"), 0)


def test_every_handler_is_async():
    names = ("hello", "submit", "events", "file", "cancel", "delete", "unknown")
    assert [name for name in names if not inspect.iscoroutinefunction(getattr(INGRESS, name))] == []


def parts(request: dict) -> dict:
    return {"request": json.dumps(request).encode()}


def test_allow_network_is_turned_off_unless_the_server_allows_downloads(tmp_path):
    request = {"type": "texture", "id": "t", "prompt": "bricks", "allow_network": True}
    assert vetting.job_request(parts(request), []).allow_network is False
    assert vetting.job_request(parts(request), [], allow_network=True).allow_network is True


@pytest.mark.parametrize("request_", [{"type": "download", "id": "d", "model": "org/model"},
                                      {"type": "delete_model", "id": "d", "model": "org/model"}])
def test_model_management_is_refused(request_):
    with pytest.raises(vetting.Refused) as refused:
        vetting.job_request(parts(request_), [])
    assert refused.value.event.message == "model management is done on the server"


def test_a_worker_error_names_the_input_field_not_the_servers_path():
    from backend.ray_serve.worker import _item

    folder = "/tmp/atelier-ray-serve-1-x/worker-2/job-abc"
    names = {folder: "the job folder", f"{folder}/input-control_image": "control_image"}
    event = protocol.ErrorEvent(id="r1", code="bad_request",
                                message=f"cannot read {folder}/input-control_image: not an image",
                                hint=f"check {folder}/out")
    body = json.loads(_item(event, names)["line"])
    assert body["message"] == "cannot read control_image: not an image"
    assert body["hint"] == "check the job folder/out"
