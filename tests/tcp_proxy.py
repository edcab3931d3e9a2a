"""A TCP proxy on loopback that breaks connections the way a network does, for tests of a remote
backend whose connection drops: ``TcpProxy(port)`` forwards each connection made to ``proxy.url``
to 127.0.0.1:<port>, both ways, one thread per connection.

``cut_after(marker, count)``: the next connection whose request holds ``marker`` (``b"/events"``,
``b"/files/"``) is reset once the server's answer head and ``count`` bytes of its body (as sent:
chunked, if it is) have been passed on: the client reads what came, then "connection reset" (an
RST: SO_LINGER 0), as when a router or a Wi-Fi link drops; with ``reset=False`` it is closed (a
FIN) as if the answer ended there. With ``then_refuse`` the proxy also stops taking connections at
that moment, as if the server's machine were gone, until ``restore()``; ``refuse()`` does that at
once, resetting every open connection. Every connection's request head and the server's answer
are kept in ``connections`` (``Link``), so a test can see what went through and where it was cut.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
from dataclasses import dataclass, field

POLL_SECONDS = 0.05  # how soon a connection's thread sees a cut ordered from another thread
KEPT_BYTES = 1 << 20  # of each direction, for the test to look at


@dataclass
class Link:
    """One connection through the proxy: the client's first bytes, the server's answer so far,
    and where it is to be cut."""

    request: bytes = b""
    answer: bytearray = field(default_factory=bytearray)
    cut_at: int | None = None  # cut once the answer's head and this many bytes of its body passed
    cut: bool = False  # it was cut (or is to be, at once)
    then_refuse: bool = False
    reset: bool = True  # cut with an RST; else closed with a FIN


class TcpProxy:
    """Forwards 127.0.0.1:<its port> to 127.0.0.1:``target_port`` until ``close``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections: list[Link] = []
        self._lock = threading.Lock()
        self._rules: list[tuple[bytes, int, bool, bool]] = []  # the cuts ordered, each for one link
        self._listener: socket.socket | None = None
        self._stop_listening = threading.Event()
        self._listening = threading.Event()
        self.port = self._listen(0)
        self.url = f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ commands

    def cut_after(self, marker: bytes, count: int, then_refuse: bool = False, reset: bool = True) -> None:
        """Cut the next connection whose request holds ``marker`` ``count`` bytes into its answer's
        body (after the cuts ordered before for such connections)."""
        with self._lock:
            self._rules.append((marker, count, then_refuse, reset))

    def refuse(self) -> None:
        """Reset every open connection and take no new one (the port refuses) until ``restore``."""
        self._close_listener()
        with self._lock:
            for link in self.connections:
                link.cut = True

    def restore(self) -> None:
        """Take connections again, on the same port."""
        if not self._listening.is_set():
            self._listen(self.port)

    def close(self) -> None:
        self.refuse()

    def with_request(self, marker: bytes) -> list[Link]:
        """The connections whose request held ``marker``, oldest first."""
        with self._lock:
            return [link for link in self.connections if marker in link.request]

    # ------------------------------------------------------------------ the threads

    def _listen(self, port: int) -> int:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(16)
        self._listener = listener
        self._stop_listening.clear()
        self._listening.set()
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="tcp-proxy-accept").start()
        return listener.getsockname()[1]

    def _close_listener(self) -> None:
        """Stop listening; returns once the port refuses connections."""
        if self._listening.is_set():
            self._stop_listening.set()
            while self._listening.is_set():  # the accept thread closes its own socket
                self._stop_listening.wait(POLL_SECONDS)

    def _accept(self, listener: socket.socket) -> None:
        # The socket is closed by this thread alone: closing it from another one would leave a
        # blocked accept() holding the port open.
        with listener:
            while not self._stop_listening.is_set():
                if not select.select([listener], [], [], POLL_SECONDS)[0]:
                    continue
                client, _ = listener.accept()
                link = Link()
                with self._lock:
                    self.connections.append(link)
                threading.Thread(target=self._pump, args=(link, client), daemon=True,
                                 name="tcp-proxy-link").start()
        self._listening.clear()

    def _pump(self, link: Link, client: socket.socket) -> None:
        """Pass bytes both ways until either side closes or the link is cut."""
        try:
            server = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            _reset(client)
            return
        with client, server:
            while not link.cut:
                ready = select.select([client, server], [], [], POLL_SECONDS)[0]
                try:
                    for sock in ready:
                        data = sock.recv(65536)
                        if not data:
                            return  # one side closed: so does the other (one request a connection)
                        if sock is client:
                            self._request(link, data)
                            server.sendall(data)
                        elif not self._answer(link, client, data):
                            return
                except OSError:
                    return
            _reset(client)

    def _request(self, link: Link, data: bytes) -> None:
        if not link.request:
            with self._lock:
                link.request = data[:4096]
                rule = next((rule for rule in self._rules if rule[0] in link.request), None)
                if rule is not None:
                    self._rules.remove(rule)  # once: the connection made again goes through
                    _, link.cut_at, link.then_refuse, link.reset = rule
        elif len(link.request) < 4096:
            link.request += data[:4096 - len(link.request)]

    def _answer(self, link: Link, client: socket.socket, data: bytes) -> bool:
        """Pass ``data`` from the server on; False once the link is cut there."""
        if link.cut_at is not None:
            so_far = bytes(link.answer) + data
            head = so_far.find(b"\r\n\r\n")
            if head >= 0 and len(so_far) >= head + 4 + link.cut_at:
                return self._cut(link, client, data[:head + 4 + link.cut_at - len(link.answer)])
        client.sendall(data)
        if len(link.answer) < KEPT_BYTES:
            link.answer += data
        return True

    def _cut(self, link: Link, client: socket.socket, last: bytes) -> bool:
        """Pass ``last`` on, then cut the link."""
        client.sendall(last)
        link.answer += last
        if link.then_refuse:  # before the cut: the client must not get back in first
            self._close_listener()
        link.cut = True
        if link.reset:
            _reset(client)
        return False


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with an RST rather than a FIN: the peer reads "connection reset"."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass  # already closed
    sock.close()
