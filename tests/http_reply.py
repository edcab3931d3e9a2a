"""One whole HTTP answer for the tiny servers tests run on loopback (``tests/remote/loopback_backend.py``,
``tests/text_server/scripted_server.py``): ``reply(status, payload, content_type)`` gives a
handler function writing it, with its Content-Length and any extra headers; ``trickle`` keeps an
answer open with filler until the test releases the server; ``served`` runs such a server from a
thread for the length of a ``with`` block."""

from __future__ import annotations

import contextlib
import threading


def reply(status: int, payload: bytes | str, content_type: str, headers: dict | None = None):
    data = payload.encode() if isinstance(payload, str) else payload

    def answer(handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    return answer


def trickle(handler, filler: bytes) -> None:
    """Write ``filler`` every 50 ms until the server's ``release`` event is set or the client
    hangs up (the test's stand-in for an answer that never ends)."""
    try:
        while not handler.server.release.wait(0.05):
            handler.wfile.write(filler)
            handler.wfile.flush()
    except OSError:
        pass  # the client stopped reading: what it should do


@contextlib.contextmanager
def served(server):
    """``server`` (an ``http.server`` server with a ``release`` event) answering from a thread
    until the block ends; then held answers are released and the socket is closed."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
