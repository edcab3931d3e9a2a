"""The bearer token guards every path of the Ray Serve server: without it, or with a wrong one,
the answer is 401 and nothing is read or run; one user's token cannot see another's jobs."""

import contextlib
import http.client
import json
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from ray_server import call, run_job, session_processes, stream_events, submit

MIB = 2**20

PATHS = [("GET", "/v1/hello"), ("POST", "/v1/jobs"), ("GET", "/v1/jobs/x/events"),
         ("GET", "/v1/jobs/x/files/base_color"), ("POST", "/v1/jobs/x/cancel"), ("DELETE", "/v1/jobs/x"),
         ("GET", "/no/such/path")]


def assert_unauthorized(answer):
    assert answer.status_code == 401, answer.text
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    body = answer.json()
    assert body["type"] == "error" and body["id"] is None and body["code"] == "unauthorized", body
    assert "token" in body["message"] and body["hint"]


@pytest.mark.parametrize("token", [None, "wrong-token", ""], ids=["none", "wrong", "server-token-prefix"])
@pytest.mark.parametrize(("method", "path"), PATHS)
def test_every_path_needs_the_token(ray_backend, method, path, token):
    given = ray_backend.token[:-1] if token == "" else token  # one character short is wrong too
    assert_unauthorized(call(ray_backend, method, path, given))


def test_hello_with_the_token(ray_backend):
    answer = call(ray_backend, "GET", "/v1/hello")
    assert answer.status_code == 200, answer.text
    hello = answer.json()
    assert hello["type"] == "hello" and hello["protocol"] == 1 and hello["transport"] == "http"
    assert hello["pid"] == 0 and "texture" in hello["capabilities"] and "unload" not in hello["capabilities"]
    assert hello["limits"]["max_size"] > 0


def test_a_wrong_token_reads_nothing_of_the_upload(ray_backend, texture_request):
    """The token is checked before the body: an upload declared at 150 MiB gets its 401 after
    1 MiB of it, without the server waiting for the rest; a malformed one gets 401 too."""
    address = urlsplit(ray_backend.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    connection.putrequest("POST", "/v1/jobs")
    for name, value in (("Authorization", "Bearer wrong-token"), ("Content-Length", 150 * MIB),
                        ("Content-Type", "multipart/form-data; boundary=b")):
        connection.putheader(name, str(value))
    connection.endheaders(b"--b\r\n" + b"\0" * MIB)
    answer = connection.getresponse()  # the other 149 MiB are never sent
    assert answer.status == 401 and json.loads(answer.read())["code"] == "unauthorized"
    connection.close()
    assert_unauthorized(call(ray_backend, "POST", "/v1/jobs", "wrong-token", data=b"not a form",
                             headers={"Content-Type": "text/plain"}))


def test_a_401_runs_nothing(ray_backend, texture_request):
    """The ingress logs every job it accepts, in order: after a job submitted later with the
    right token is logged, the one refused with 401 is still not."""
    marker = secrets.token_hex(8)
    assert_unauthorized(submit(ray_backend, texture_request(id=f"refused-{marker}"), token="wrong-token"))
    assert_unauthorized(submit(ray_backend, texture_request(id=f"refused2-{marker}"), token=None))
    _, events = run_job(ray_backend, texture_request(id=f"accepted-{marker}"))
    assert events[-1]["type"] == "result", events
    for _ in range(300):  # Ray forwards the replica's log lines a moment later
        log = ray_backend.log_path.read_text(errors="replace")
        if f"job accepted: request accepted-{marker}" in log:
            break
        time.sleep(0.2)
    assert f"job accepted: request accepted-{marker}" in log
    assert f"-{marker}" not in log.replace(f"accepted-{marker}", "")


def test_ray_processes_do_not_inherit_the_token(ray_backend):
    """The server removes ATELIER_BACKEND_TOKEN from its environment before starting Ray."""
    ray_processes = [pid for pid in session_processes(ray_backend.pid) if pid != ray_backend.pid]
    assert len(ray_processes) >= 4  # GCS, raylet, the replicas...
    holding = []
    for pid in ray_processes:
        with contextlib.suppress(OSError):
            if b"ATELIER_BACKEND_TOKEN=" in Path(f"/proc/{pid}/environ").read_bytes():
                holding.append(pid)
    assert holding == []


def test_another_token_cannot_see_the_job(ray_backend, texture_request):
    job, events = run_job(ray_backend, texture_request())
    assert events[-1]["type"] == "result", events
    other = ray_backend.other_tokens[0]
    for method, path in [("GET", f"/v1/jobs/{job}/events"), ("GET", f"/v1/jobs/{job}/files/base_color"),
                         ("POST", f"/v1/jobs/{job}/cancel"), ("DELETE", f"/v1/jobs/{job}")]:
        answer = call(ray_backend, method, path, other)
        unknown = call(ray_backend, method, path.replace(job, "an-unknown-job"), other)
        assert answer.status_code == 404 and answer.json() == unknown.json(), answer.text
    # The owner still has everything: the other token's DELETE deleted nothing.
    assert call(ray_backend, "GET", f"/v1/jobs/{job}/files/base_color").status_code == 200
    assert list(stream_events(ray_backend, job)) == events
