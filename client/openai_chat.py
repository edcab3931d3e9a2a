"""One chat-completions call to an OpenAI-compatible server, over the standard library's HTTP.

``ChatServer(url, model).chat(messages, schema, ...)`` posts to ``<url>/chat/completions`` with
``stream: true`` and ``response_format`` (the JSON schema, ``strict``), reads the answer as it
streams (server-sent events; a server that ignores ``stream`` and sends one JSON body is read
too) and returns its text. Every failure is a ``TaskError`` whose message names the server and
whose hint says what to check; nothing here touches bpy or runs on Blender's main thread.

Bounds: the connection must open within ``connect_timeout`` seconds, the server may stay
silent for at most ``read_timeout`` seconds, a whole answer may take ``answer_seconds`` and
hold ``MAX_ANSWER_CHARS`` characters in at most ``MAX_STREAM_BYTES`` bytes on the wire; past
any bound the call ends with an error saying which. ``abort()`` (another thread: a cancel)
shuts the socket, so a call blocked on a silent server ends at once.

The API key comes from ``ATELIER_TEXT_SERVER_KEY`` at the moment of the call, travels as
``Authorization: Bearer``, and is never stored, logged or put into a message (a server's error
text that echoes it shows ``***`` instead). It is refused
over plain http to another machine (it would cross the network readable by anyone on the way).
A server on another machine is asked only with ``allow_network`` (Blender's "Allow Online
Access"); one on this machine always.

``response_format``: the OpenAI form ``{"type": "json_schema", "json_schema": {...}}`` (vLLM,
SGLang, llama.cpp's ``llama-server``, Ollama). llama-cpp-python's server (0.3.x) knows only
``{"type": "json_object", "schema": ...}`` and refuses the other (HTTP 422, or 500 when
streaming) naming ``response_format``, so after such a refusal the call is made again once in
that form, which the server then keeps.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass

from ..core.chat_answer import TEMPERATURE, TOP_P
from ..core.errors import Cancelled, TaskError
from ..core.schema import MAX_JSON_CHARS, DocumentError, parse_json
from .http_connection import Connection, unreachable_reason

KEY_ENV = "ATELIER_TEXT_SERVER_KEY"
URL_ENV = "ATELIER_TEXT_SERVER_URL"
# An answer's text is a JSON document Atelier will parse: no more than the parser reads.
MAX_ANSWER_CHARS = MAX_JSON_CHARS
# Streamed, each piece of text comes wrapped in an event of some hundred bytes of JSON.
MAX_STREAM_BYTES = 64 * MAX_JSON_CHARS
MAX_LINE_BYTES = MAX_JSON_CHARS  # one event, or a whole answer sent as one body
MAX_ERROR_BYTES = 4096  # of an error page: enough for the server's message
# Seconds between two looks at the answer so far for progress: a look reads the whole text, so
# one per piece would cost time in the square of the answer's length.
PROGRESS_SECONDS = 0.1
_LOOPBACK_NAMES = ("localhost",)
_SCHEMA_FORMATS = ("json_schema", "json_object")  # the OpenAI form, then llama-cpp-python's


@dataclass
class ChatAnswer:
    """The text of one answer, the model the server says wrote it, and the pieces it came in."""

    text: str
    model: str
    pieces: int


def public_url(url: str) -> str:
    """``url`` as it may be shown and recorded: scheme, host, port and path, never a user name,
    password or query (where some services put keys). A URL too malformed to take apart (an
    unclosed ``[``) is shown as typed up to its query, without what precedes an ``@``."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        scheme, sep, rest = url.strip().partition("://")
        rest = rest.split("?")[0].split("#")[0]
        host, slash, path = rest.partition("/")
        shown = f"{scheme}://{host.rpartition('@')[2]}{slash}{path}" if sep else url.strip()
        return "".join(c for c in shown if c.isprintable())
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if url_port(parts) is not None else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def url_port(parts) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def api_base(url: str) -> urllib.parse.SplitResult:
    """The API's base URL (``.../v1``) from what the artist typed, or a ``bad_request``.

    ``http://host:port`` alone gets ``/v1`` (every server named in the README serves there);
    a URL ending in ``/chat/completions`` loses it. A user name, password or query string is
    refused, not dropped: a key there would silently not be sent."""
    text = url.strip()
    hint = f"set Text Server URL (or {URL_ENV}) to the API's base, e.g. http://127.0.0.1:11434/v1"
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        raise TaskError("bad_request", f"the text server URL {public_url(text)!r} is not a valid URL",
                        hint=hint) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TaskError("bad_request", f"the text server URL {public_url(text)!r} is not an http(s) URL",
                        hint=hint)
    if parts.username or parts.password:
        raise TaskError("bad_request", "the text server URL holds a user name or password",
                        hint=f"remove it from the URL and put the API key in {KEY_ENV}")
    if parts.query:
        raise TaskError("bad_request", f"the text server URL {public_url(text)!r} has a query string "
                                       "(?...), which Atelier would not send",
                        hint=f"remove it from the URL; an API key goes in {KEY_ENV}")
    if url_port(parts) is None and parts.netloc.rsplit("]", 1)[-1].count(":"):
        raise TaskError("bad_request", f"the text server URL {public_url(text)!r} has an invalid port",
                        hint=hint)
    path = parts.path.rstrip("/").removesuffix("/chat/completions") or "/v1"
    return parts._replace(path=path, query="", fragment="")


def is_loopback(host: str) -> bool:
    """True for this machine's own addresses (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ChatServer:
    """An OpenAI-compatible server at ``url`` (its API base), asked for ``model``."""

    def __init__(self, url: str, model: str, *, connect_timeout: float, read_timeout: float,
                 answer_seconds: float, allow_network: bool) -> None:
        self.base = api_base(url)
        self.allow_network = allow_network
        self.url = public_url(urllib.parse.urlunsplit(self.base))  # the API base, as recorded
        self.model = model.strip()
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.answer_seconds = answer_seconds
        self._format = _SCHEMA_FORMATS[0]

    # ------------------------------------------------------------------ calls

    def resolve_model(self, exchange: Exchange) -> str:
        """The model to ask for: Text Server Model, else the only one the server lists."""
        if self.model:
            return self.model
        status, body = exchange.request("GET", self._path("/models"), None)
        listing = self._json_body(status, body, "the model list")
        names = [entry.get("id") for entry in listing.get("data", []) if isinstance(entry, dict)]
        names = [name for name in names if isinstance(name, str) and name]
        if len(names) != 1:
            shown = ", ".join(names[:10]) or "none"
            raise TaskError("model_missing", f"the text server at {self.url} serves {len(names)} models "
                                             f"({shown}) and no Text Server Model is set",
                            hint="set Text Server Model (or ATELIER_TEXT_SERVER_MODEL) to one of them")
        self.model = names[0]
        return self.model

    def chat(self, exchange: Exchange, messages: list[dict], schema: dict, *, name: str,
             seed: int | None, on_text=None) -> ChatAnswer:
        """One answer to ``messages`` under ``schema``; ``on_text(text_so_far)`` as it streams."""
        model = self.resolve_model(exchange)
        for style in _SCHEMA_FORMATS[_SCHEMA_FORMATS.index(self._format):]:
            body = {"model": model, "messages": messages, "stream": True, "temperature": TEMPERATURE,
                    "top_p": TOP_P, "response_format": _response_format(style, name, schema)}
            if seed is not None:
                body["seed"] = seed
            status, response = exchange.request("POST", self._path("/chat/completions"), body)
            if (status >= 400 and style != _SCHEMA_FORMATS[-1]
                    and b"response_format" in response.peek_error()):
                response.close()
                continue  # this server spells response_format the other way
            if 200 <= status < 300:
                self._format = style  # later calls start with the form this server took
            return self._answer(exchange, status, response, model, on_text)
        raise AssertionError("unreachable: the last format returns or raises")

    # ------------------------------------------------------------------ reading

    def _answer(self, exchange, status, response, model, on_text) -> ChatAnswer:
        self._check_status(status, response)
        kind = response.getheader("Content-Type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            document = self._json_body(status, response, "the answer")
            text = _message_text(document, self.url)
            self._check_finish(_finish_reason(document) or "stop", len(text))
            return ChatAnswer(text, _model_of(document, model), 1)
        if kind != "text/event-stream":
            raise TaskError("invalid_output", f"the text server at {self.url} answered with "
                                              f"{kind or 'no content type'}, not JSON",
                            hint="check that Text Server URL is the API's base (ending in /v1), "
                                 "not a web page")
        return self._stream(exchange, response, model, on_text)

    def _stream(self, exchange, response, model, on_text) -> ChatAnswer:
        deadline = time.monotonic() + self.answer_seconds
        parts, chars, pieces, received, shown = [], 0, 0, 0, time.monotonic()
        finish = None  # why the server says the answer ended: "stop", "length", ...
        while True:
            # Checked before every line, keep-alive comments included: a server that only pings
            # must not hold the job past its bound.
            if time.monotonic() > deadline:
                raise TaskError("invalid_output", f"the text server at {self.url} was still writing after "
                                                  f"{self.answer_seconds:g} s; Atelier stopped reading",
                                hint="ask for fewer ideas or colours, or use a faster model")
            line = exchange.read(lambda: response.readline(MAX_LINE_BYTES + 1))
            received += len(line)
            if received > MAX_STREAM_BYTES or len(line) > MAX_LINE_BYTES:
                raise _too_big(self.url, f"{MAX_STREAM_BYTES // 1_000_000} MB")
            if not line:
                exchange.check_cancelled()  # a cancel shut the socket: that is the reason
                break  # the server closed the stream
            data = line.strip()
            if not data.startswith(b"data:"):
                continue  # blank separators, comments (": ping"), event names
            data = data[len(b"data:"):].strip()
            if data == b"[DONE]":
                finish = finish or "stop"
                break
            chunk = _event(data, self.url)
            finish = _finish_reason(chunk) or finish
            text = _delta_text(chunk)
            if text:
                parts.append(text)
                chars += len(text)
                pieces += 1
                if chars > MAX_ANSWER_CHARS:
                    raise _too_big(self.url, f"{MAX_ANSWER_CHARS} characters")
                if on_text is not None and time.monotonic() - shown >= PROGRESS_SECONDS:
                    on_text("".join(parts))
                    shown = time.monotonic()
            model = _model_of(chunk, model)
        response.close()
        text = "".join(parts)
        self._check_finish(finish, len(text))
        if on_text is not None:
            on_text(text)  # the whole answer: the end of this stage, whatever was shown last
        return ChatAnswer(text, model, pieces)

    def _check_finish(self, finish: str | None, chars: int) -> None:
        """An answer the server cut off, or a stream that broke off, is an error: the text is
        not the whole document, and asking again with it in the chat only makes it longer."""
        hint = ("use a larger context on the server (llama.cpp: --ctx-size), ask for fewer ideas, "
                "or look at the server's own log")
        if finish == "length":
            raise TaskError("invalid_output", f"the text server at {self.url} cut the answer off at its "
                                              f"length limit after {chars} characters", hint=hint)
        if finish is None:
            raise TaskError("invalid_output", f"the text server at {self.url} broke the answer off after "
                                              f"{chars} characters without ending it",
                            hint=hint + " (a prompt longer than its context window is one cause)")

    def _json_body(self, status: int, response, what: str) -> dict:
        self._check_status(status, response)
        raw = response.read(MAX_LINE_BYTES + 1)
        if len(raw) > MAX_LINE_BYTES:
            raise _too_big(self.url, f"{MAX_LINE_BYTES // 1_000_000} MB")
        document = json_object(raw)
        if document is None:
            raise TaskError("invalid_output", f"{what} from the text server at {self.url} is not a JSON "
                                              "object",
                            hint="check that Text Server URL is an OpenAI-compatible API's base (ending "
                                 "in /v1)")
        return document

    def _check_status(self, status: int, response) -> None:
        if 200 <= status < 300:
            return
        said = _error_text(response.peek_error())
        where = f"the text server at {self.url}"
        detail = f" (HTTP {status}{': ' + said if said else ''})"
        if status in (401, 403):
            key = "check" if os.environ.get(KEY_ENV) else "set"
            raise TaskError("bad_request", f"{where} refused the request{detail}",
                            hint=f"{key} {KEY_ENV} to the server's API key before starting Blender")
        if status == 404:
            unknown = f"the model {self.model!r} or the path" if self.model else "the path"
            raise TaskError("model_missing", f"{where} does not know {unknown}{detail}",
                            hint="check that Text Server URL is the API's base (ending in /v1) and "
                                 "that Text Server Model names a model the server serves")
        if 400 <= status < 500:
            raise TaskError("bad_request", f"{where} refused the request{detail}",
                            hint="check Text Server Model; the server may not support JSON-schema "
                                 "answers (response_format)")
        raise TaskError("invalid_output", f"{where} failed{detail}",
                        hint="look at the server's own log; it may be out of memory or still loading "
                             "the model")

    def _path(self, tail: str) -> str:
        return self.base.path + tail


def _response_format(style: str, name: str, schema: dict) -> dict:
    if style == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def json_object(raw: bytes) -> dict | None:
    """``raw`` read as one JSON object (bounded by ``core.schema.parse_json``); None for anything else."""
    try:
        document = parse_json(raw.decode("utf-8", errors="replace"))
    except DocumentError:
        return None
    return document if isinstance(document, dict) else None


def _event(data: bytes, url: str) -> dict:
    chunk = json_object(data)
    if chunk is None:
        raise TaskError("invalid_output", f"the text server at {url} sent a stream event that is not "
                                          "a JSON object",
                        hint="check that Text Server URL is an OpenAI-compatible API's base")
    if "error" in chunk:
        raise TaskError("invalid_output", f"the text server at {url} stopped with an error: "
                                          f"{_error_text(json.dumps(chunk).encode())}",
                        hint="look at the server's own log")
    return chunk


def _finish_reason(chunk: dict) -> str | None:
    choices = chunk.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        reason = choices[0].get("finish_reason")
        return reason if isinstance(reason, str) and reason else None
    return None


def _delta_text(chunk: dict) -> str:
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta") or choices[0].get("message") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def _message_text(document: dict, url: str) -> str:
    text = _delta_text(document)
    if not text:
        raise TaskError("invalid_output", f"the text server at {url} answered without any text",
                        hint="check Text Server Model; look at the server's own log")
    return text


def _model_of(chunk: dict, fallback: str) -> str:
    model = chunk.get("model")
    return model if isinstance(model, str) and 0 < len(model) <= 200 else fallback


def _error_text(raw: bytes) -> str:
    """What an error body says, as one short printable line (the server's own words)."""
    text = raw.decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        inner = body.get("error", body.get("detail", body.get("message", "")))
        if isinstance(inner, dict):
            inner = inner.get("message", inner)
        text = inner if isinstance(inner, str) else json.dumps(inner)
    key = os.environ.get(KEY_ENV, "").strip()
    if key:
        text = text.replace(key, "***")  # a server that echoes the request must not show the key
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line if len(line) <= 200 else line[:197] + "..."


def _too_big(url: str, bound: str) -> TaskError:
    return TaskError("invalid_output", f"the text server at {url} sent more than {bound}; Atelier "
                                       "stopped reading",
                     hint="the server ignored the JSON schema or runs away; check its response_format "
                          "support and the model")


class _Response:
    """An HTTP response whose error body can be looked at before it is read."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self._response = response
        self._error = None

    def peek_error(self) -> bytes:
        if self._error is None:
            try:
                self._error = self._response.read(MAX_ERROR_BYTES)
            except (OSError, http.client.HTTPException):
                self._error = b""
        return self._error

    def getheader(self, name: str, default: str = "") -> str:
        return self._response.getheader(name, default)

    def read(self, limit: int) -> bytes:
        return self._response.read(limit)

    def readline(self, limit: int) -> bytes:
        return self._response.readline(limit)

    def close(self) -> None:
        self._response.close()


class Exchange:
    """The HTTP calls of one job, and the way to end them from another thread (``abort``)."""

    def __init__(self, server: ChatServer, cancelled: threading.Event) -> None:
        self.server = server
        self.cancelled = cancelled
        self._link = Connection(server.base, server.connect_timeout)

    def request(self, method: str, path: str, body: dict | None) -> tuple[int, _Response]:
        """Send one request on a fresh connection; the status and the response to read."""
        self.check_cancelled()
        base, server = self.server.base, self.server
        if not server.allow_network and not is_loopback(base.hostname):
            raise TaskError("bad_request", f"the text server at {server.url} is on another machine and "
                                           "Blender's online access is off",
                            hint="allow it in Preferences > System > Network (Allow Online Access; "
                                 "--online-mode with blender -b), or run the server on this machine")
        headers = {"Accept": "text/event-stream, application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        key = os.environ.get(KEY_ENV, "").strip()
        if key:
            if base.scheme == "http" and not is_loopback(base.hostname):
                raise TaskError("bad_request", f"{KEY_ENV} is set but the text server at {server.url} "
                                               "is plain http on another machine: the key would travel "
                                               "unencrypted",
                                hint="use an https URL (or an SSH tunnel to 127.0.0.1), or unset the key")
            headers["Authorization"] = f"Bearer {key}"
        payload = None if body is None else json.dumps(body).encode("utf-8")
        try:
            connection = self._link.open()
        except OSError as exc:
            raise self._failure(exc, connecting=True) from None
        self.check_cancelled()  # a cancel that came while connecting found no socket to shut
        try:
            connection.request(method, path, body=payload, headers=headers)
            self._link.set_wait(server.read_timeout)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(exc) from None
        return response.status, _Response(response)

    def read(self, step):
        """``step()`` (a read of the response), with network failures said plainly."""
        try:
            return step()
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(exc) from None

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    def abort(self) -> None:
        """End the call in progress now (from another thread): its socket is shut."""
        self._link.abort()

    def close(self) -> None:
        self._link.close()

    def _failure(self, exc: Exception, connecting: bool = False) -> TaskError:
        """The error a network failure means for the artist (or ``Cancelled`` after ``abort``)."""
        if self.cancelled.is_set():
            return Cancelled()
        url = self.server.url
        hint = (f"start the text server, or check Text Server URL (or {URL_ENV}); clear it to use "
                "Atelier's backend instead")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return TaskError("bad_request", f"the certificate of the text server at {url} cannot be "
                                            f"verified: {exc.verify_message}",
                             hint="use a certificate your system trusts, or plain http on 127.0.0.1")
        reason = unreachable_reason(exc, self.server.base.hostname, self.server.connect_timeout, connecting)
        if reason:
            return TaskError("model_missing", f"cannot reach the text server at {url}: {reason}", hint=hint)
        if isinstance(exc, TimeoutError):
            return TaskError("invalid_output", f"the text server at {url} sent nothing for "
                                               f"{self.server.read_timeout:g} s, so Atelier stopped "
                                               "waiting",
                             hint="the server may be overloaded or still loading the model; try again")
        if connecting:
            return TaskError("model_missing", f"cannot reach the text server at {url}: {exc}", hint=hint)
        return TaskError("invalid_output", f"the connection to the text server at {url} broke: "
                                           f"{exc or type(exc).__name__}",
                         hint="look at the server's own log, and try again")
