"""A job's connections cut in ways a real Ray Serve application does not show on loopback: an answer
of known length closed (a FIN, no reset) inside an event line or inside a file, a gateway that has
lost the server for a moment (HTTP 503), and a stream cut more often than the retry window allows,
though the job goes on between the cuts. Each is a lost connection, asked again; a half line is
never read as an event. Scripted server (``loopback_backend.FakeBackend``) behind the TCP proxy
(``tcp_proxy.TcpProxy``)."""

from __future__ import annotations

import contextlib
import json

from loopback_backend import SERVER_JOB, FakeBackend, reply, serving
from recorded_lines import job_lines, record_lines
from tcp_proxy import TcpProxy

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 10
EVENTS = f"/v1/jobs/{SERVER_JOB}/events"


def _events(steps: int):
    """The job's events: accepted, ``steps`` progress lines, a result with one file."""
    def make(rid: str) -> list[str]:
        return [json.dumps({"type": "accepted", "id": rid, "position": 0}),
                *(json.dumps({"type": "progress", "id": rid, "step": step, "total": steps})
                  for step in range(1, steps + 1)),
                json.dumps({"type": "result", "id": rid, "metadata": {}, "data": {},
                            "files": [{"role": "base_color", "path": "x.png", "format": "png"}]})]
    return make


class _BusyOnce(FakeBackend):
    """The job's second events request is answered 503, as by a gateway without its server."""

    events_asked = 0

    def __call__(self, handler) -> None:
        if handler.path == EVENTS:
            self.events_asked += 1
            if self.events_asked == 2:
                return reply(503, b'{"type": "error", "message": "no healthy upstream"}',
                             "application/json")(handler)
        return super().__call__(handler)


@contextlib.contextmanager
def _through_proxy(addon, backend):
    """(transport, proxy, server): a started remote transport to ``backend`` through a proxy."""
    with serving(backend) as server:
        proxy = TcpProxy(server.server_address[1])
        transport = addon.client.remote_config.RemoteConfig(url=proxy.url, token="t").make_transport()
        transport.start()
        try:
            yield transport, proxy, server
        finally:
            transport.stop()
            proxy.close()


def _request(addon, request_id: str, folder):
    return addon.core.protocol.TextureRequest(id=request_id, prompt="p", output_dir=str(folder))


def test_an_answer_closed_inside_a_line_or_a_file_is_asked_again(addon, tmp_path):
    make = _events(steps=2)
    with _through_proxy(addon, _BusyOnce(make, files={"base_color": PNG})) as (transport, proxy, server):
        proxy.cut_after(b"/events", len(make("fin")[0]) + 10, reset=False)  # in the first progress line
        proxy.cut_after(b"/files/", 20, reset=False)
        lines = job_lines(transport, addon.core.protocol, _request(addon, "fin", tmp_path))
        log = transport.log_tail()
    assert [line["type"] for line in lines[:2]] == ["hello", "accepted"] and lines[-1]["type"] == "result"
    steps = [line["step"] for line in lines if line["type"] == "progress"]
    assert steps in ([1, 2], [2]), lines  # the newest progress may replace one not read yet
    assert "closed before the job's result" in log and "HTTP 503" in log, log
    assert "the job's base_color file ended after 20 of 68 bytes" in log, log
    assert [r["path"] for r in server.requests].count(EVENTS) == 3
    assert (tmp_path / "base_color.png").read_bytes() == PNG


def test_a_stream_cut_often_goes_on_while_the_job_does(addon, tmp_path):
    """Each cut comes after the job's next event: more cuts than the retry window holds, and the
    job still ends with its result, each event queued once."""
    cuts = len(addon.client.remote_transport.RECONNECT_DELAYS) + 1
    make = _events(steps=cuts)
    with _through_proxy(addon, FakeBackend(make, files={"base_color": PNG})) as (transport, proxy, server):
        lengths = [len(line) + 1 for line in make("often")]
        for count in range(1, cuts + 1):  # the k-th connection is cut inside event k + 1
            proxy.cut_after(b"/events", sum(lengths[:count]) + 5)
        queued = record_lines(transport)
        lines = job_lines(transport, addon.core.protocol, _request(addon, "often", tmp_path))
    assert lines[-1]["type"] == "result", lines[-1]
    assert [line["type"] for line in queued].count("accepted") == 1
    assert [line["step"] for line in queued if line["type"] == "progress"] == list(range(1, cuts + 1))
    assert [r["path"] for r in server.requests].count(EVENTS) == cuts + 1
