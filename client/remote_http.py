"""One HTTP call to a remote Atelier backend over the standard library: bounded, abortable, and
every failure said plainly.

``Call(config, seconds)`` sends one request on a connection of its own
(``http_connection.Connection``: TLS verified with the system's default context) with
``Authorization: Bearer <token>``, and ends it once ``seconds`` pass, however slowly the server
drips its answer; ``abort()`` from another thread (a cancel, the transport stopping) shuts its
socket, so a call blocked on a silent server ends at once. ``check(response)`` turns an answer
that is not a success into a ``TaskError`` whose message names the server and whose hint says
what to change: 401 (the token), 404, 400 and 413 (the server's own message), 503 (no replica
free), a redirect (the host it points to), an HTML page (the URL is some web site);
``file_length`` refuses a result file's answer that is no file or does not say its size. A failure
that another try may not meet (the server unreachable, the connection reset or cut short, a gateway
that lost the server) is a ``ConnectionLost``, so a caller that can ask again knows it may.
``read_bounded`` reads a body up to a size. Nothing here touches bpy or runs on Blender's main thread.
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.parse

from ..core.errors import TaskError
from .http_connection import Connection, unreachable_reason
from .openai_chat import json_object

MAX_ERROR_BYTES = 4096  # of an error body: enough for the server's message
CHUNK_BYTES = 64 * 1024
# A job ended here before the server confirmed the cancel (its own word is "the job was cancelled").
CANCELLED_HERE = "the job was cancelled here before the remote backend confirmed it"
_SETTINGS_HINT = ("check Remote URL (or ATELIER_BACKEND_URL) and that `python -m backend ray-serve` "
                  "runs there; press Doctor in Atelier's preferences")
_GATEWAY_STATUSES = (502, 503, 504)  # a proxy or Serve's router between has lost the server for now


class ConnectionLost(TaskError):
    """A failure another try may not meet: the server could not be reached, or the connection
    broke or was cut short. ``reason`` says what happened in a few words."""

    def __init__(self, code: str, message: str, hint: str = "", reason: str = "") -> None:
        super().__init__(code, message, hint=hint)
        self.reason = reason or message


class Call:
    """One request and its response on a connection of its own, all of it (connecting, sending,
    the answer's headers and any body read before ``settle``) within ``seconds``."""

    def __init__(self, config, seconds: float) -> None:
        self.config = config
        self.url = config.shown_url
        self.seconds = seconds
        self.link = Connection(_split(config.url), config.connect_timeout)

    def send(self, method: str, tail: str, *, body=None, headers: dict | None = None,
             wait: float) -> http.client.HTTPResponse:
        """Send ``method`` to the API path ``tail``; ``wait`` is the longest silence allowed
        (between any two reads later too); raises ``TaskError``."""
        self.link.arm(self.seconds)
        try:
            connection = self.link.open()
        except OSError as exc:
            raise self.failure(exc, self.config.connect_timeout, connecting=True) from None
        self.link.set_wait(wait)  # sending a large upload may pause too
        all_headers = {"Authorization": f"Bearer {self.config.token}", **(headers or {})}
        try:
            connection.request(method, self.config.api_path(tail), body=body, headers=all_headers)
            return connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise self.failure(exc, wait) from None

    def settle(self) -> None:
        """The answer began well: its body (a job's events, a file) may take as long as it
        needs, each read within the silence bound."""
        self.link.disarm()

    def set_wait(self, seconds: float) -> None:
        self.link.set_wait(seconds)

    @property
    def aborted(self) -> bool:
        return self.link.aborted

    def abort(self) -> None:
        """End the call in progress now (from another thread)."""
        self.link.abort()

    def close(self) -> None:
        self.link.close()

    def failure(self, exc: Exception, wait: float, connecting: bool = False) -> TaskError:
        """The error a network failure means for the artist."""
        url = self.url
        if self.link.timed_out or self.link.overdue:
            return TaskError("backend_exited", f"the remote backend at {url} did not answer within "
                                               f"{self.seconds:g} s, so Atelier stopped waiting",
                             hint="the server may be overloaded, or the URL may not be an Atelier "
                                  "backend; " + _SETTINGS_HINT)
        if self.link.aborted:
            return TaskError("cancelled", CANCELLED_HERE)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return TaskError("backend_exited", f"the certificate of the remote backend at {url} cannot be "
                                               f"verified: {exc.verify_message}",
                             hint="give the server a certificate this computer trusts (or point "
                                  "SSL_CERT_FILE at its CA before starting Blender), or reach it "
                                  "through an SSH tunnel to 127.0.0.1")
        reason = unreachable_reason(exc, _split(self.config.url).hostname, wait, connecting)
        if reason:
            return ConnectionLost("backend_exited", f"cannot reach the remote backend at {url}: {reason}",
                                  hint=_SETTINGS_HINT, reason=reason)
        if isinstance(exc, TimeoutError):
            return TaskError("backend_exited", f"the remote backend at {url} sent nothing for {wait:g} s, "
                                               "so Atelier stopped waiting",
                             hint="the server may be overloaded, or the URL may not be an Atelier "
                                  "backend; " + _SETTINGS_HINT)
        if isinstance(exc, ssl.SSLEOFError) and not connecting:  # TLS cut off without its goodbye
            return _broke(url, exc)
        if isinstance(exc, ssl.SSLError):
            return TaskError("backend_exited", f"no secure connection to the remote backend at {url}: "
                                               f"{exc.reason or exc}",
                             hint="check that the server speaks https at this address (or http, and "
                                  "change the URL)")
        if connecting:
            return ConnectionLost("backend_exited", f"cannot reach the remote backend at {url}: {exc}",
                                  hint=_SETTINGS_HINT, reason=str(exc))
        return _broke(url, exc)

    def read(self, step, wait: float):
        """``step()`` (a read of the response), with network failures said plainly; an empty
        read after ``abort`` (a cancel, the time bound) is that, not the end of the answer."""
        try:
            data = step()
        except (OSError, http.client.HTTPException) as exc:
            raise self.failure(exc, wait) from None
        if not data and self.link.aborted:
            raise self.failure(ConnectionAbortedError("aborted"), wait)
        return data


def _broke(url: str, exc: Exception) -> ConnectionLost:
    said = str(exc) or type(exc).__name__
    return ConnectionLost("backend_exited", f"the connection to the remote backend at {url} broke: {said}",
                          hint="look at the server's log, and try again",
                          reason=f"the connection broke: {said}")


def read_bounded(call: Call, response: http.client.HTTPResponse, limit: int, what: str, *,
                 wait: float, sink=None) -> bytes:
    """The body of ``response``, at most ``limit`` bytes, each read within ``wait`` seconds (the
    call's own bound covers the whole); raises ``TaskError`` past a bound. With ``sink`` (a
    binary file) the body is written there, b'' returned."""
    call.set_wait(wait)
    parts, size = [], 0
    while True:
        chunk = call.read(lambda: response.read1(CHUNK_BYTES), wait)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise TaskError("invalid_output", f"{what} from the remote backend at {call.url} is larger "
                                              f"than {limit:,} bytes; Atelier stopped reading",
                            hint="check that the URL is an Atelier backend")
        if sink is None:
            parts.append(chunk)
        else:
            sink.write(chunk)
    return b"".join(parts)


def json_body(call: Call, response: http.client.HTTPResponse, what: str, *, limit: int,
              wait: float) -> dict:
    """A successful answer read as one JSON object; an HTML page or anything else is a clear
    error saying the URL is not an Atelier backend."""
    check(call, response, what)
    kind = content_type(response)
    raw = read_bounded(call, response, limit, what, wait=wait)
    document = json_object(raw)
    if document is None:
        shown = "a web page (HTML)" if kind == "text/html" or raw.lstrip()[:1] == b"<" else \
            f"{kind or 'something with no content type'} that is not a JSON object"
        raise TaskError("backend_exited", f"{what} from {call.url} is {shown}: this is not an Atelier "
                                          "backend",
                        hint="set Remote URL (or ATELIER_BACKEND_URL) to the address "
                             "`python -m backend ray-serve` prints when it is ready")
    return document


def check(call: Call, response: http.client.HTTPResponse, what: str) -> None:
    """Nothing for a success (2xx); else a ``TaskError`` saying what the status means."""
    status = response.status
    if 200 <= status < 300:
        return
    where = f"the remote backend at {call.url}"
    if 300 <= status < 400:
        raise redirected(call, response, where)
    said = _error_message(call, response)
    detail = f" (HTTP {status}{': ' + said[0] if said[0] else ''})"
    if status == 401:
        raise TaskError("bad_request", f"{where} refused the token{detail}",
                        hint="set ATELIER_BACKEND_TOKEN, or the remote_token file in Atelier's user "
                             "folder, to the token the server was started with")
    if status == 404:
        raise TaskError("invalid_output", f"{where} does not know {what}{detail}",
                        hint="the job may have been forgotten (the server keeps finished jobs for an "
                             "hour), or the URL is not an Atelier backend; run it again")
    if status == 413:
        raise TaskError("bad_request", f"{where} refused {what} as too large{detail}",
                        hint=said[1] or "use smaller input images")
    if status == 503:
        raise ConnectionLost("backend_exited", f"{where} has no replica free to take the job{detail}",
                             hint=said[1] or "try again in a moment, or start the server with more replicas",
                             reason=f"HTTP 503{': ' + said[0] if said[0] else ''}")
    if status in _GATEWAY_STATUSES:
        raise ConnectionLost("backend_exited", f"{where} failed{detail}",
                             hint=said[1] or "look at the server's log", reason=f"HTTP {status}")
    if 400 <= status < 500:
        raise TaskError("bad_request", f"{where} refused {what}{detail}",
                        hint=said[1] or "check the settings of the call")
    raise TaskError("backend_exited", f"{where} failed{detail}", hint=said[1] or "look at the server's log")


def redirected(call: Call, response: http.client.HTTPResponse, where: str) -> TaskError:
    """A redirect is not followed (the token would go wherever it points): it is named."""
    location = one_line(response.getheader("Location") or "")
    try:
        parts = urllib.parse.urlsplit(urllib.parse.urljoin(call.config.url.strip(), location))
        target = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else ""
    except ValueError:
        target = ""
    said = f" to {target}" if target else ""
    return TaskError("backend_exited", f"{where} redirects{said} (HTTP {response.status}); Atelier does "
                                       "not follow redirects, so the token goes nowhere else",
                     hint="set Remote URL (or ATELIER_BACKEND_URL) to the final address of the "
                          "server (the one `python -m backend ray-serve` prints when it is ready)")


def file_length(call: Call, response: http.client.HTTPResponse, what: str, limit: int) -> int:
    """The size a result file's answer announces (``Content-Length``, which the protocol
    requires, so a download cut short is noticed); raises ``TaskError`` for an answer that is
    no file: a web page, text, no length, more than ``limit`` bytes."""
    kind = content_type(response)
    if kind != "application/octet-stream" and not kind.startswith("image/"):
        raise TaskError("invalid_output", f"{what} from the remote backend at {call.url} is "
                                          f"{kind or 'something with no content type'}, not a file",
                        hint="nothing was applied; check that Remote URL is an Atelier backend, not a "
                             "web site or a proxy's page")
    length = response.getheader("Content-Length") or ""
    if not length.isdigit() or response.getheader("Transfer-Encoding"):
        raise TaskError("invalid_output", f"{what} from the remote backend at {call.url} does not say "
                                          "its size (Content-Length)",
                        hint="nothing was applied; a proxy between may change the answer; check that "
                             "the server runs this Atelier version")
    if int(length) > limit:
        raise TaskError("invalid_output", f"{what} from the remote backend at {call.url} is larger "
                                          f"than {limit:,} bytes",
                        hint="nothing was applied; check that the URL is an Atelier backend")
    return int(length)


def content_type(response: http.client.HTTPResponse) -> str:
    return (response.getheader("Content-Type") or "").split(";")[0].strip().lower()


def _error_message(call: Call, response: http.client.HTTPResponse) -> tuple[str, str]:
    """(message, hint) of an error body (the protocol's ``error`` object, or whatever a proxy
    sent), each one short printable line; an HTML page says nothing."""
    try:
        raw = read_bounded(call, response, MAX_ERROR_BYTES, "an error", wait=call.config.connect_timeout)
    except TaskError:
        return "", ""
    body = json_object(raw)
    if body is None:
        return ("" if raw.lstrip()[:1] == b"<" else one_line(raw.decode("utf-8", errors="replace"))), ""
    message = body.get("message", body.get("detail", ""))
    hint = body.get("hint", "")
    return (one_line(message if isinstance(message, str) else json.dumps(message)),
            one_line(hint) if isinstance(hint, str) else "")


def one_line(text: str, limit: int = 300) -> str:
    """``text`` from a server as one short printable line, safe to show in Blender's interface."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _split(url: str) -> urllib.parse.SplitResult:
    return urllib.parse.urlsplit(url.strip())
