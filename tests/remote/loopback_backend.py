"""Tiny HTTP(S) servers on 127.0.0.1 that answer what a real remote backend cannot be made to: a web
page, another protocol version, a body that never ends, silence, a refused token, a certificate
nobody trusts. ``serving(answer)`` runs one from a thread; every request is recorded (method,
path, headers) so a test sees what reached it.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from http_reply import reply, served, trickle


def web_page():
    return reply(200, b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>", "text/html")


def hello(protocol: int):
    document = {"type": "hello", "protocol": protocol, "backend_version": "9.9", "capabilities": ["texture"],
                "pid": 0, "limits": {}, "transport": "http"}
    return reply(200, json.dumps(document).encode(), "application/json")


def unauthorized():
    body = {"type": "error", "id": None, "code": "unauthorized", "message": "a valid bearer token is needed",
            "hint": "send Authorization: Bearer <token>"}
    return reply(401, json.dumps(body).encode(), "application/json", {"WWW-Authenticate": "Bearer"})


def never_ending(handler):
    """A JSON answer whose body never ends: a space every 50 ms until the client hangs up."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(b'{"type": "hello"')
    trickle(handler, b" ")


def silent(handler):
    """The connection is taken and nothing is ever answered."""
    handler.server.release.wait(60)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        self.server.requests.append({"method": self.command, "path": self.path,
                                     "headers": dict(self.headers)})
        self.server.answer(self)

    do_GET = do_POST = do_DELETE = _answer  # noqa: N815 - the names http.server calls

    def log_message(self, *args) -> None:
        pass


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = f"[{host}]" if ":" in host else host
        super().__init__((host, 0), _Handler)
        self.answer = answer
        self.requests: list[dict] = []
        self.release = threading.Event()
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.server_address[1]}"


@contextlib.contextmanager
def serving(answer, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"):
    """A ``LoopbackServer`` on ``host`` answering every request with ``answer`` until the block
    ends."""
    with served(LoopbackServer(answer, tls, host)) as server:
        yield server


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (the port was just given back)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def self_signed_tls(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1 (no CA trusts it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "server.crt", folder / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


SERVER_JOB = "J" * 43  # the shape of the server's secrets.token_urlsafe(32) ids


class FakeBackend:
    """A scripted Atelier backend speaking the HTTP protocol: hello, a job's upload (kept in
    ``uploads`` as {part name: (file name, bytes)}), its ``events`` (lines made by
    ``events(request_id)``), its ``files`` by role, cancel and delete (recorded)."""

    def __init__(self, events, files: dict[str, bytes] | None = None) -> None:
        self.events = events
        self.files = files or {}
        self.uploads: dict[str, tuple[str | None, bytes]] = {}
        self.uploaded = threading.Event()  # a job's whole upload has arrived
        # Cleared by a test: the upload's answer waits until it is set again.
        self.answer_upload = threading.Event()
        self.answer_upload.set()

    def __call__(self, handler) -> None:
        path = handler.path
        if path == "/v1/hello":
            hello(1)(handler)
        elif handler.command == "POST" and path == "/v1/jobs":
            self._upload(handler)
        elif path == f"/v1/jobs/{SERVER_JOB}/events":
            lines = "".join(line + "\n" for line in self.events(self.request_id)).encode()
            reply(200, lines, "application/x-ndjson")(handler)
        elif path.startswith(f"/v1/jobs/{SERVER_JOB}/files/") and path.rsplit("/", 1)[1] in self.files:
            reply(200, self.files[path.rsplit("/", 1)[1]], "application/octet-stream")(handler)
        elif handler.command in ("POST", "DELETE") and path.startswith(f"/v1/jobs/{SERVER_JOB}"):
            reply(204 if handler.command == "DELETE" else 202, b"", "application/json")(handler)
        else:
            reply(404, b'{"type": "error", "code": "bad_request", "message": "not found"}',
                  "application/json")(handler)

    def _upload(self, handler) -> None:
        from email.parser import BytesParser
        from email.policy import HTTP

        body = handler.rfile.read(int(handler.headers["Content-Length"]))
        head = f"Content-Type: {handler.headers['Content-Type']}\r\n\r\n".encode()
        for part in BytesParser(policy=HTTP).parsebytes(head + body).iter_parts():
            name = part.get_param("name", header="content-disposition")
            self.uploads[name] = (part.get_filename(), part.get_payload(decode=True))
        self.request_id = json.loads(self.uploads["request"][1])["id"]
        self.uploaded.set()
        self.answer_upload.wait(30)
        answer = {"job": SERVER_JOB, "id": self.request_id}
        reply(202, json.dumps(answer).encode(), "application/json")(handler)
