"""The remote transport against servers that misbehave on purpose (scripted on loopback): answers
that drip, downloads cut short, floods of progress, a server stuck on cancel, redirects, and URLs
that cannot be taken apart. Each job still ends with one clear line, within its bounds, and
nothing of it is left running. Bounds are made short through ``RemoteConfig`` so the tests are
quick; the waits below are generous limits, not measurements."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from loopback_backend import SERVER_JOB, FakeBackend, hello, serving, silent

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 10


@pytest.fixture
def connect(addon):
    """``connect(url, **bounds) -> (transport, protocol)``: a started remote transport."""
    made = []

    def start(url: str, **bounds):
        config = addon.client.remote_config.RemoteConfig(url=url, token="fake-token", **bounds)
        transport = config.make_transport()
        transport.start()
        made.append(transport)
        return transport, addon.core.protocol

    yield start
    for transport in made:
        transport.stop()


def _last_line(transport, request_id: str, seconds: float = 30) -> dict:
    """The job's result or error line (other lines skipped)."""
    while True:
        line = json.loads(transport.lines.get(timeout=seconds))
        if line["type"] in ("result", "error") and line.get("id") == request_id:
            return line


def _job_thread(request_id: str) -> threading.Thread | None:
    return next((t for t in threading.enumerate() if t.name == f"atelier-remote-{request_id}"), None)


def _texture(protocol, request_id: str, folder) -> str:
    return protocol.encode(protocol.TextureRequest(id=request_id, prompt="p", output_dir=str(folder)))


def _result(request_id: str) -> list[str]:
    return [json.dumps({"type": "result", "id": request_id, "metadata": {}, "data": {},
                        "files": [{"role": "base_color", "path": "x.png", "format": "png"}]})]


class _Dripping:
    """A raw server that takes the request, then drips ``head`` and a byte every 0.2 s for ever."""

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                connection.sendall(self.head)
                while not self.stop.wait(0.2):
                    connection.sendall(b"X" if not self.head.endswith(b"\r\n\r\n") else b" ")
            except OSError:
                pass  # the client hung up: what it should do

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\n",  # headers that never end
    b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n",
])
def test_an_answer_that_drips_ends_at_the_hello_bound(connect, tmp_path, head):
    server = _Dripping(head)
    try:
        transport, protocol = connect(server.url, hello_seconds=2.0)
        transport.send(_texture(protocol, "drip", tmp_path))
        line = _last_line(transport, "drip", seconds=60)
    finally:
        server.close()
    expected = "did not answer within 2 s" if b"200" in head else "refused the token (HTTP 401)"
    assert line["type"] == "error" and expected in line["message"], line


class _CutFile(FakeBackend):
    """Announces a file of 100,000 bytes and sends 68; or sends it chunked, with no length."""

    def __init__(self, chunked: bool) -> None:
        super().__init__(_result)
        self.chunked = chunked

    def __call__(self, handler) -> None:
        if "/files/" not in handler.path:
            return super().__call__(handler)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        if self.chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", "100000")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(PNG), PNG) if self.chunked else PNG)
        handler.close_connection = True


@pytest.mark.parametrize("chunked, expected", [
    (False, "ended after 68 of 100,000 bytes"),
    (True, "does not say its size (Content-Length)"),
])
def test_a_download_cut_short_or_of_no_size_is_refused(connect, tmp_path, chunked, expected):
    with serving(_CutFile(chunked)) as server:
        transport, protocol = connect(server.url)
        transport.send(_texture(protocol, "cut", tmp_path))
        line = _last_line(transport, "cut")
    assert line["type"] == "error" and expected in line["message"], line
    assert list(tmp_path.iterdir()) == []  # no part of a file is left to be applied


@pytest.mark.parametrize("kind, length, expected", [
    ("text/html", None, "is text/html, not a file"),
    ("application/octet-stream", 65 * 2**20, "is larger than 67,108,864 bytes"),
])
def test_a_download_that_is_no_file_is_refused_before_it_is_read(connect, tmp_path, kind, length, expected):
    class Odd(FakeBackend):
        def __call__(self, handler) -> None:
            if "/files/" not in handler.path:
                return super().__call__(handler)
            handler.send_response(200)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(length or len(PNG)))
            handler.end_headers()
            handler.wfile.write(PNG)

    with serving(Odd(_result)) as server:
        transport, protocol = connect(server.url)
        transport.send(_texture(protocol, "odd", tmp_path))
        line = _last_line(transport, "odd")
    assert line["type"] == "error" and expected in line["message"], line
    assert list(tmp_path.iterdir()) == []


class _Flood(FakeBackend):
    """The job's stream: progress lines of ``size`` bytes, as fast as the socket takes them."""

    def __init__(self, stage_bytes: int) -> None:
        super().__init__(None)
        self.stage = "s" * stage_bytes
        self.sent = 0

    def __call__(self, handler) -> None:
        if not handler.path.endswith("/events"):
            return super().__call__(handler)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/x-ndjson")
        handler.end_headers()
        line = json.dumps({"type": "progress", "id": self.request_id, "step": 1, "total": 2,
                           "stage": self.stage}).encode() + b"\n"
        try:
            while not handler.server.release.is_set():
                handler.wfile.write(line)
                self.sent += 1
        except OSError:
            pass  # the client hung up


def test_a_flood_of_progress_keeps_one_line_per_job(connect, tmp_path):
    backend = _Flood(stage_bytes=100)
    with serving(backend) as server:
        transport, protocol = connect(server.url)
        transport.send(_texture(protocol, "flood", tmp_path))
        deadline = time.monotonic() + 30
        while backend.sent < 20000:
            assert time.monotonic() < deadline, f"the server sent only {backend.sent} lines"
            time.sleep(0.05)
        waiting = transport.lines.qsize()
        first, second = (json.loads(transport.lines.get(timeout=5)) for _ in range(2))
        transport.stop()
    assert waiting <= 2, waiting  # the hello and the newest progress, however many came
    assert (first["type"], second["type"]) == ("hello", "progress")


def test_an_oversized_progress_line_ends_the_job(connect, tmp_path):
    with serving(_Flood(stage_bytes=2**20)) as server:
        transport, protocol = connect(server.url)
        transport.send(_texture(protocol, "big", tmp_path))
        line = _last_line(transport, "big")
    assert line["type"] == "error" and "'progress' event of 1,048," in line["message"], line
    assert "reads at most 65,536" in line["message"]


class _StuckOnCancel(FakeBackend):
    """Streams ``accepted`` then nothing; never answers a cancel or a delete."""

    def __call__(self, handler) -> None:
        if handler.path.endswith("/events"):
            handler.send_response(200)
            handler.send_header("Content-Type", "application/x-ndjson")
            handler.end_headers()
            handler.wfile.write(json.dumps({"type": "accepted", "id": self.request_id,
                                            "position": 0}).encode() + b"\n")
            handler.wfile.flush()
            handler.server.release.wait(60)
        elif handler.path.endswith("/cancel") or handler.command == "DELETE":
            handler.server.release.wait(60)
        else:
            super().__call__(handler)


def test_esc_against_a_server_stuck_on_cancel_ends_the_job_at_the_connect_bound(connect, tmp_path):
    with serving(_StuckOnCancel(None)) as server:
        transport, protocol = connect(server.url, connect_timeout=1.0, answer_seconds=60.0)
        transport.send(_texture(protocol, "stuck", tmp_path))
        assert json.loads(transport.lines.get(timeout=30))["type"] == "hello"
        assert json.loads(transport.lines.get(timeout=30))["type"] == "accepted"
        transport.send(protocol.encode(protocol.CancelRequest(id="esc", job="stuck")))
        line = _last_line(transport, "stuck", seconds=20)  # the cancel's bound is 1 s, not 60
        thread = _job_thread("stuck")
        transport.stop()
        assert thread is None or not thread.is_alive()  # stop() ended its clean-up too
        told = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in server.requests]
    assert (line["code"], line["message"]) == ("cancelled", "the job was cancelled here before the "
                                                            "remote backend confirmed it")
    assert told.count(("POST", "cancel")) == 1  # asked once, never twice


class _QuietStream(FakeBackend):
    """Streams ``accepted`` then nothing more; answers everything else at once."""

    def __call__(self, handler) -> None:
        if not handler.path.endswith("/events"):
            return super().__call__(handler)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/x-ndjson")
        handler.end_headers()
        handler.wfile.write(json.dumps({"type": "accepted", "id": self.request_id, "position": 0}).encode()
                            + b"\n")
        handler.wfile.flush()
        handler.server.release.wait(60)


def test_stop_while_a_job_streams_ends_it_without_another_call(connect, tmp_path):
    with serving(_QuietStream(None)) as server:
        transport, protocol = connect(server.url)
        transport.send(_texture(protocol, "streaming", tmp_path))
        assert json.loads(transport.lines.get(timeout=30))["type"] == "hello"
        assert json.loads(transport.lines.get(timeout=30))["type"] == "accepted"
        thread = _job_thread("streaming")
        transport.stop()
        thread.join(30)
        asked = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in server.requests]
    assert not thread.is_alive()
    assert asked == [("GET", "hello"), ("POST", "jobs"), ("GET", "events")]  # nothing after the stop


def test_a_cancel_during_the_upload_cancels_the_job_on_the_server(connect, tmp_path):
    backend = FakeBackend(lambda rid: [json.dumps({"type": "error", "id": rid, "code": "cancelled",
                                                   "message": "the job was cancelled"})])
    backend.answer_upload.clear()
    with serving(backend) as server:
        transport, protocol = connect(server.url)
        transport.send(_texture(protocol, "upload", tmp_path))
        assert backend.uploaded.wait(30)
        transport.send(protocol.encode(protocol.CancelRequest(id="esc", job="upload")))
        backend.answer_upload.set()
        line = _last_line(transport, "upload")
        _job_thread("upload").join(30)
        told = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in server.requests]
    assert line["code"] == "cancelled"
    # The server's job id was awaited, then the job cancelled by it and forgotten.
    assert told == [("GET", "hello"), ("POST", "jobs"), ("POST", "cancel"), ("GET", "events"),
                    ("DELETE", SERVER_JOB)]


def test_jobs_waiting_on_a_failed_hello_share_its_error(connect, tmp_path):
    with serving(silent) as server:
        transport, protocol = connect(server.url, hello_seconds=2.0)
        for number in range(3):
            transport.send(_texture(protocol, f"batch-{number}", tmp_path))
        lines = [_last_line(transport, f"batch-{number}", seconds=60) for number in range(3)]
        hellos = [r["path"] for r in server.requests]
    assert {line["message"] for line in lines} == {
        f"the remote backend at {server.url} did not answer within 2 s, so Atelier stopped waiting"}
    assert hellos == ["/v1/hello"]  # asked once for all three, not once per job


def test_a_redirect_names_where_it_points(connect, tmp_path):
    def redirect(handler):
        handler.send_response(302)
        handler.send_header("Location", "https://elsewhere.example:9000/login")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with serving(redirect) as server:
        transport, protocol = connect(server.url)
        transport.send(_texture(protocol, "moved", tmp_path))
        line = _last_line(transport, "moved")
        paths = [r["path"] for r in server.requests]
    assert "redirects to https://elsewhere.example:9000 (HTTP 302)" in line["message"], line
    assert "final address" in line["hint"] and paths == ["/v1/hello"]


def test_503_says_no_replica_is_free(connect, tmp_path):
    from loopback_backend import reply

    busy = reply(503, json.dumps({"type": "error", "id": None, "code": "backend_exited",
                                  "message": "no replica can take work"}), "application/json")
    with serving(busy) as server:
        transport, protocol = connect(server.url)
        transport.send(_texture(protocol, "busy", tmp_path))
        line = _last_line(transport, "busy")
    assert "has no replica free to take the job (HTTP 503: no replica can take work)" in line["message"]


def test_a_server_that_never_accepts_the_connection_fails_at_the_connect_bound(connect, tmp_path):
    """A listening socket whose backlog is full: the connection is never taken."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):  # fill the backlog; later connections then wait unanswered
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
            fillers.append(filler)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        transport, protocol = connect(url, connect_timeout=1.0)
        transport.send(_texture(protocol, "unanswered", tmp_path))
        line = _last_line(transport, "unanswered")
    finally:
        for sock in [*fillers, listener]:
            sock.close()
    assert f"cannot reach the remote backend at {url}: no connection within 1 s" in line["message"], line


def test_ipv6_loopback_is_served(connect, tmp_path):
    if not socket.has_ipv6:
        pytest.skip("this machine has no IPv6")
    try:
        server_context = serving(FakeBackend(_result, files={"base_color": PNG}), host="::1")
        server = server_context.__enter__()
    except OSError as exc:
        pytest.skip(f"::1 cannot be served here: {exc}")
    try:
        assert server.url.startswith("http://[::1]:")
        transport, protocol = connect(server.url)
        transport.send(_texture(protocol, "six", tmp_path))
        line = _last_line(transport, "six")
    finally:
        server_context.__exit__(None, None, None)
    assert line["type"] == "result", line
    assert (tmp_path / "base_color.png").read_bytes() == PNG


def test_a_url_path_outside_ascii_is_sent_percent_encoded(connect, tmp_path):
    with serving(hello(2)) as server:
        transport, protocol = connect(server.url + "/caf\u00e9")
        transport.send(_texture(protocol, "path", tmp_path))
        _last_line(transport, "path")
        paths = [r["path"] for r in server.requests]
    assert paths == ["/caf%C3%A9/v1/hello"]


@pytest.mark.parametrize("url, expected", [
    ("http://[::1", "is not a valid URL"),
    ("http://[gpu]:8765", "is not a valid URL"),
    ("http://127.0.0.1:8765/a b", "has spaces or control characters in its path"),
    ("http://127.0.0.1:8765/v1/hello", "names a path of the API itself"),
])
def test_urls_that_cannot_be_used_are_said_before_anything_is_sent(addon, url, expected):
    config = addon.client.remote_config.RemoteConfig(url=url, token="fake-token")
    problem = config.problem()
    assert expected in problem and "Remote URL" in problem, problem
    with pytest.raises(addon.client.transport.TransportClosed, match=expected):
        config.make_transport().start()
