"""One HTTP connection over the standard library that another thread can end, and whose whole call
can be bounded: the road both a text server's calls (``openai_chat``) and a remote backend's
(``remote_http``) take.

``Connection(parts, connect_timeout)``: ``open()`` resolves the host in a thread of its own and
tries each of its addresses, all of it within ``connect_timeout`` seconds (a host name that never
resolves, or many addresses that never answer, cannot stretch it); TLS is verified with the
system's default context. ``arm(seconds)`` bounds everything from now on (connecting, sending,
the answer's headers and whatever body is read before ``disarm()``): a timer ends the call when
they pass and ``timed_out`` says so, however slowly a server drips its bytes. ``abort()`` (a cancel,
a transport stopping) shuts the socket at once, also one still connecting; a read then returns
nothing, so callers ask ``aborted`` before taking an empty read for the end of an answer.
``unreachable_reason`` words a failure to connect the same way for every caller.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import urllib.parse


class Connection:
    """One request's connection at a time (``open`` closes the one before)."""

    def __init__(self, parts: urllib.parse.SplitResult, connect_timeout: float) -> None:
        self.parts = parts
        self.connect_timeout = connect_timeout
        self._connection: http.client.HTTPConnection | None = None
        # Kept apart: http.client lets go of the socket once a response that closes the
        # connection begins, while that response still reads from it.
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._deadline: float | None = None
        self._aborted = False
        self._timed_out = False

    @property
    def aborted(self) -> bool:
        return self._aborted

    @property
    def timed_out(self) -> bool:
        """The bound set by ``arm`` passed and ended the call."""
        return self._timed_out

    @property
    def overdue(self) -> bool:
        """The bound set by ``arm`` has passed (its timer may not have fired yet)."""
        deadline = self._deadline
        return deadline is not None and time.monotonic() >= deadline

    def arm(self, seconds: float) -> None:
        """End the call ``seconds`` from now, whatever it is doing then."""
        timer = threading.Timer(seconds, self._time_out)
        timer.daemon = True
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._deadline = timer, time.monotonic() + seconds
        timer.start()

    def disarm(self) -> None:
        """No bound on the whole call any more (a stream that may last an hour)."""
        with self._lock:
            timer, self._timer, self._deadline = self._timer, None, None
        if timer is not None:
            timer.cancel()

    def open(self) -> http.client.HTTPConnection:
        """A new connection to the server; raises ``OSError``."""
        parts = self.parts
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.connect_timeout,
                                                     context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.connect_timeout)
        connection._create_connection = self._create_connection  # the hook http.client offers
        self.close(keep_timer=True)
        with self._lock:
            self._connection = connection
        connection.connect()
        with self._lock:
            self._socket = connection.sock
            aborted = self._aborted
        if aborted:  # an abort that came while the TLS handshake ran
            raise ConnectionAbortedError("aborted")
        return connection

    def set_wait(self, seconds: float) -> None:
        """The longest silence allowed on the next reads (and writes)."""
        with self._lock:
            sock = self._socket
        if sock is not None:
            try:
                sock.settimeout(max(0.01, seconds))
            except OSError:
                pass  # shut by ``abort``: the next read says so

    def abort(self) -> None:
        """End the call in progress now (from another thread): its socket is shut."""
        with self._lock:
            self._aborted = True
            sock = self._socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed, or not connected yet (its connect then ends by its bound)

    def close(self, keep_timer: bool = False) -> None:
        if not keep_timer:
            self.disarm()
        with self._lock:
            connection, self._connection, self._socket = self._connection, None, None
        if connection is not None:
            connection.close()

    def _time_out(self) -> None:
        self._timed_out = True
        self.abort()

    def _create_connection(self, address, timeout, source_address=None) -> socket.socket:
        """``socket.create_connection`` bounded as a whole by ``timeout`` and the call's bound."""
        end = time.monotonic() + timeout
        with self._lock:
            if self._deadline is not None:
                end = min(end, self._deadline)
        host, port = address
        last: OSError = TimeoutError(f"no connection within {timeout:g} s")
        for family, kind, proto, _, where in resolve(host, port, end - time.monotonic()):
            left = end - time.monotonic()
            if left <= 0 or self._aborted:
                break
            sock = socket.socket(family, kind, proto)
            with self._lock:
                self._socket = sock  # so ``abort`` can end the connect
            try:
                sock.settimeout(left)
                sock.connect(where)
            except OSError as exc:
                sock.close()
                last = ConnectionAbortedError("aborted") if self._aborted else exc
                continue
            sock.settimeout(timeout)  # the TLS handshake, if any
            return sock
        raise last


def resolve(host: str, port: int, seconds: float) -> list:
    """``socket.getaddrinfo`` for a stream connection within ``seconds``; raises
    ``socket.gaierror`` (unknown host) or ``TimeoutError`` (no answer in time). The look-up runs
    in a thread of its own, which a resolver that hangs may keep for a while."""
    found: dict = {}

    def look_up() -> None:
        try:
            found["addresses"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except OSError as exc:
            found["error"] = exc

    thread = threading.Thread(target=look_up, name="atelier-resolve", daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if thread.is_alive():
        raise TimeoutError(f"the host name {host!r} did not resolve within {max(0.0, seconds):.0f} s")
    if "error" in found:
        raise found["error"]
    return found["addresses"]


def unreachable_reason(exc: Exception, host: str | None, connect_wait: float, connecting: bool) -> str | None:
    """Why no connection could be made, in words ("the host 'gpu' is unknown", ...), or None when
    ``exc`` is not one of those failures (``connecting``: it happened while connecting)."""
    if isinstance(exc, socket.gaierror):
        return f"the host {host!r} is unknown"
    if isinstance(exc, ConnectionRefusedError):
        return "nothing listens there (connection refused)"
    if isinstance(exc, TimeoutError) and connecting:
        return f"no connection within {connect_wait:g} s"
    return None
