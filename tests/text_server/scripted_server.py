"""A scripted OpenAI-compatible server on loopback, for what a real server cannot be made to do:
answer prose despite ``response_format``, an HTML page, a 500, a stream that never ends, only
pings, breaks off or stays silent, a refused form of ``response_format``, a known answer. Its answers are
scripted per request (``script``); it records every request it received (path, headers, body).
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from http_reply import reply, served, trickle

MODEL = "scripted-model"


def stream(text: str, pieces: int = 4, finish: str | None = "stop"):
    """An answer streamed as server-sent events, ``text`` in ``pieces`` parts, then the reason it
    ended and [DONE]; ``finish=None``: the stream breaks off after the text instead."""
    def answer(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        size = max(1, len(text) // pieces)
        for start in range(0, len(text), size):
            piece = text[start:start + size]
            chunk = {"model": MODEL, "choices": [{"index": 0, "delta": {"content": piece}}]}
            handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if finish is not None:
            end = {"model": MODEL, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
            handler.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
    return answer


def body(status: int, payload: str, content_type: str = "application/json"):
    return reply(status, payload, content_type)


def silent(handler):
    """Headers, then nothing until the test is over (or the client hangs up)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    handler.wfile.flush()
    handler.server.answering.set()
    handler.server.release.wait(60)


def endless(handler):
    """A stream that never ends: 64-character pieces, written 64 events at a time, until the
    client stops reading."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    event = f"data: {json.dumps({'choices': [{'delta': {'content': 'a' * 64}}]})}\n\n".encode()
    try:
        while not handler.server.release.is_set():
            handler.wfile.write(event * 64)
    except OSError:
        pass  # the client stopped reading: what it should do


def pings(handler):
    """Headers, then only server-sent-event comments (keep-alive pings), never any text, until
    the client hangs up."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    trickle(handler, b": ping\n\n")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": None})
        models = {"object": "list", "data": [{"id": name, "object": "model"} for name in self.server.models]}
        body(200, json.dumps(models))(self)

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        length = int(self.headers.get("Content-Length", 0))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers),
                                     "body": json.loads(self.rfile.read(length))})
        self.server.received.set()
        answers = self.server.answers
        (answers.pop(0) if len(answers) > 1 else answers[0])(self)

    def log_message(self, *args) -> None:
        pass


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list = []
        self.requests: list[dict] = []
        self.models = [MODEL]
        self.received = threading.Event()
        self.answering = threading.Event()  # a silent answer has begun: headers sent, no text
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def script(self, *answers) -> None:
        """Answer the next requests with ``answers`` in turn (the last one from then on)."""
        self.answers[:] = answers
        self.requests.clear()
        self.received.clear()
        self.answering.clear()


@contextlib.contextmanager
def running():
    """A ``ScriptedServer`` serving from a thread until the block ends."""
    with served(ScriptedServer()) as server:
        yield server
