"""The remote transport against a scripted backend on loopback (``loopback_backend.FakeBackend``):
what it uploads, where result files go whatever the server names, and the answers it refuses.
Lines are read from the transport's queue as ``BackendClient`` reads them."""

from __future__ import annotations

import json
import threading
import time

import pytest
from loopback_backend import SERVER_JOB, FakeBackend, serving, silent

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 10


@pytest.fixture
def connect(addon):
    """``connect(url) -> (transport, protocol)``: a started remote transport, stopped afterwards."""
    made = []

    def start(url: str):
        transport = addon.client.remote_config.RemoteConfig(url=url, token="fake-token").make_transport()
        transport.start()
        made.append(transport)
        return transport, addon.core.protocol

    yield start
    for transport in made:
        transport.stop()


def _lines_until_done(transport, request_id: str) -> list[dict]:
    """Every line the transport queues up to the job's result or error (hello included)."""
    lines = []
    while True:
        line = json.loads(transport.lines.get(timeout=30))
        lines.append(line)
        if line["type"] in ("result", "error") and line.get("id") == request_id:
            return lines


def _cleaned_up(request_id: str) -> None:
    """Wait for the job's thread: after its last line it tells the server to forget the job."""
    for thread in threading.enumerate():
        if thread.name == f"atelier-remote-{request_id}":
            thread.join(30)
            assert not thread.is_alive(), "the job's clean-up never ended"


def _result(request_id: str, role: str = "base_color", path: str = "/etc/hosts") -> str:
    return json.dumps({"type": "result", "id": request_id, "files": [{"role": role, "path": path,
                                                                         "format": "png"}],
                       "metadata": {}, "data": {}})


def test_files_go_to_the_job_folder_whatever_path_the_server_names(connect, tmp_path):
    backend = FakeBackend(lambda rid: [json.dumps({"type": "accepted", "id": rid, "position": 0}),
                                       json.dumps({"type": "progress", "id": rid, "step": 1, "total": 2}),
                                       _result(rid)],
                          files={"base_color": PNG})
    with serving(backend) as server:
        transport, protocol = connect(server.url)
        folder = tmp_path / "job-1"
        folder.mkdir()
        request = protocol.TextureRequest(id="job-1", prompt="p", output_dir=str(folder))
        transport.send(protocol.encode(request))
        lines = _lines_until_done(transport, "job-1")
        _cleaned_up("job-1")
    assert [line["type"] for line in lines] == ["hello", "accepted", "progress", "result"]
    assert "transport" not in lines[0]
    assert lines[-1]["files"] == [{"role": "base_color", "path": str(folder / "base_color.png"),
                                   "format": "png"}]
    assert (folder / "base_color.png").read_bytes() == PNG
    assert [(r["method"], r["path"]) for r in server.requests] == [
        ("GET", "/v1/hello"), ("POST", "/v1/jobs"), ("GET", f"/v1/jobs/{SERVER_JOB}/events"),
        ("GET", f"/v1/jobs/{SERVER_JOB}/files/base_color"),
        ("DELETE", f"/v1/jobs/{SERVER_JOB}")]  # once the result was queued: nothing is left there
    assert all(r["headers"]["Authorization"] == "Bearer fake-token" for r in server.requests)


def test_input_files_are_uploaded_under_their_field_without_local_folders(connect, tmp_path):
    picture = tmp_path / "private folder" / "my picture.PNG"
    picture.parent.mkdir()
    picture.write_bytes(PNG)
    backend = FakeBackend(lambda rid: [json.dumps({"type": "error", "id": rid, "code": "cancelled",
                                                   "message": "stopped"})])
    with serving(backend) as server:
        transport, protocol = connect(server.url)
        request = protocol.RefineRequest(id="job-2", image=str(picture), prompt="sharper",
                                         output_dir=str(tmp_path))
        transport.send(protocol.encode(request))
        lines = _lines_until_done(transport, "job-2")
    assert lines[-1]["code"] == "cancelled"
    assert sorted(backend.uploads) == ["image", "request"]
    assert backend.uploads["image"] == ("image.png", PNG)
    sent = json.loads(backend.uploads["request"][1])
    # No local path leaves this machine: the file is named by its part, the folder not at all.
    assert (sent["image"], sent["output_dir"]) == ("image.png", "")
    assert str(tmp_path) not in backend.uploads["request"][1].decode()


@pytest.mark.parametrize("events, expected", [
    (lambda rid: [_result(rid, role="../../evil")], "names a file with role '../../evil'"),
    (lambda rid: [json.dumps({"type": "progress", "id": "someone-else", "step": 1, "total": 2})],
     "does not name job 'job-3' on that job's stream"),
    (lambda rid: ['{"type": "progress", "id": "job-3", "step": NaN}'], "answer cannot be read"),
    (lambda rid: [json.dumps({"type": "accepted", "id": rid, "position": 0})],
     "ended the job's events before its result"),
])
def test_answers_that_are_not_the_protocol_end_the_job(connect, tmp_path, events, expected):
    with serving(FakeBackend(events, files={"base_color": PNG})) as server:
        transport, protocol = connect(server.url)
        request = protocol.TextureRequest(id="job-3", prompt="p", output_dir=str(tmp_path))
        transport.send(protocol.encode(request))
        lines = _lines_until_done(transport, "job-3")
        _cleaned_up("job-3")
    assert lines[-1]["type"] == "error" and expected in lines[-1]["message"], lines[-1]
    assert list(tmp_path.iterdir()) == []  # nothing was written
    told = [(r["method"], r["path"]) for r in server.requests][3:]
    # A job the server ended is deleted; one that may still run there is cancelled first.
    cancel = [] if "role" in expected else [("POST", f"/v1/jobs/{SERVER_JOB}/cancel")]
    assert told == [*cancel, ("DELETE", f"/v1/jobs/{SERVER_JOB}")]


def test_a_cancel_before_the_server_has_the_job_ends_it_here(connect, tmp_path):
    """The hello hangs: the cancel shuts that call, the job ends ``cancelled`` (not with the
    hello's timeout) and nothing is uploaded."""
    with serving(silent) as server:
        transport, protocol = connect(server.url)
        request = protocol.TextureRequest(id="job-4", prompt="p", output_dir=str(tmp_path))
        transport.send(protocol.encode(request))
        deadline = time.monotonic() + 30
        while not server.requests:  # the hello call has reached the server and waits there
            assert time.monotonic() < deadline, "the hello never reached the server"
            time.sleep(0.01)
        transport.send(protocol.encode(protocol.CancelRequest(id="cancel-1", job="job-4")))
        lines = _lines_until_done(transport, "job-4")
    assert [(line["type"], line["code"]) for line in lines] == [("error", "cancelled")]
    assert [r["path"] for r in server.requests] == ["/v1/hello"]
