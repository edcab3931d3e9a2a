"""Where a remote Atelier backend (``python -m backend ray-serve``) answers, and with what token.

``RemoteConfig(url, token, ...)`` is the remote twin of ``BackendConfig``: the session keeps one
backend client per configuration and ``make_transport()`` gives the connection
(``remote_transport.RemoteTransport``), so jobs take the same road to a server as to the local
process. ``problem()`` says why the settings cannot be used, before anything is sent: a URL that is
not http(s), one holding a user name, password or query, plain http to another machine without
``allow_insecure`` (the token and the artist's images would cross the network readable by anyone
on the way), another machine while Blender's online access is off, no token.

The token never enters a .blend: the preferences read it from ``ATELIER_BACKEND_TOKEN`` or the
``remote_token`` file in Atelier's user folder (``read_token_file``), and it is left out of
``repr`` so no message or log shows it.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from .openai_chat import is_loopback, public_url, url_port
from .remote_transport import RemoteTransport
from .session import SILENCE_SECONDS

URL_ENV = "ATELIER_BACKEND_URL"
TOKEN_ENV = "ATELIER_BACKEND_TOKEN"
TOKEN_FILE_NAME = "remote_token"
API_PREFIX = "/v1"
MAX_TOKEN_CHARS = 4096  # a bearer token is a short secret; a whole file read as one is a mistake


@dataclass(frozen=True)
class RemoteConfig:
    """A remote backend; a change of any field means a new connection. Times in seconds."""

    url: str
    token: str = field(default="", repr=False)
    allow_insecure: bool = False  # plain http to another machine (the artist ticked it)
    allow_network: bool = False  # Blender's online access: may another machine be asked at all
    # A connection (name resolution and every address included); also the whole of a cancel or
    # delete call, so a stuck server cannot hold Esc or the clean-up.
    connect_timeout: float = 5.0
    hello_seconds: float = 10.0  # the whole ``/v1/hello`` answer, however it trickles in
    # Any other call's answer headers (and an error's body), however they trickle in; the
    # silence allowed while a file downloads.
    answer_seconds: float = 60.0
    # Silence allowed on a job's event stream (a model loading or downloading on the server says
    # nothing for a while): the same bound as a local backend's.
    silence_seconds: float = SILENCE_SECONDS

    @property
    def shown_url(self) -> str:
        """The URL as it may be shown: scheme, host, port and path only."""
        return public_url(self.url)

    def problem(self) -> str:
        """Why these settings cannot be used ('' when they can); the text says what to change."""
        text = self.url.strip()
        where = f"Remote URL (or {URL_ENV})"
        try:
            parts = urllib.parse.urlsplit(text)
        except ValueError:  # an unclosed "[", a bracketed name that is no IPv6 address
            return (f"the remote backend URL {public_url(text)!r} is not a valid URL; set {where} to the "
                    "server's address, e.g. https://gpu-server:8765 or http://[::1]:8765")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return (f"the remote backend URL {public_url(text)!r} is not an http(s) URL; set {where} "
                    "to the server's address, e.g. https://gpu-server:8765")
        if parts.username or parts.password or parts.query or parts.fragment:
            return (f"the remote backend URL {public_url(text)!r} holds a user name, password, query or "
                    f"fragment; set {where} to scheme, host, port and path only (the token goes in "
                    f"{TOKEN_ENV} or the {TOKEN_FILE_NAME} file)")
        if url_port(parts) is None and parts.netloc.rsplit("]", 1)[-1].count(":"):
            return f"the remote backend URL {public_url(text)!r} has an invalid port; check {where}"
        path = parts.path.rstrip("/")
        if not path.isprintable() or any(c.isspace() for c in path):
            return (f"the remote backend URL {public_url(text)!r} has spaces or control characters in "
                    f"its path; set {where} to the server's address")
        if f"{API_PREFIX}/" in f"{path}/".removesuffix(f"{API_PREFIX}/"):
            return (f"the remote backend URL {public_url(text)!r} names a path of the API itself; set "
                    f"{where} to the server's address alone (what `python -m backend ray-serve` prints "
                    "when it is ready), e.g. https://gpu-server:8765")
        local = is_loopback(parts.hostname)
        if parts.scheme == "http" and not local and not self.allow_insecure:
            return (f"the remote backend URL {public_url(text)!r} is plain http to another machine: the "
                    "token and your images would cross the network unencrypted; use https (or an SSH "
                    "tunnel to 127.0.0.1), or tick Allow Insecure Connection in Atelier's preferences")
        if not local and not self.allow_network:
            return (f"the remote backend at {public_url(text)} is on another machine and Blender's online "
                    "access is off; allow it in Preferences > System > Network (Allow Online Access; "
                    "--online-mode with blender -b)")
        return token_problem(self.token)

    def api_path(self, tail: str) -> str:
        """The request path of ``tail`` (``/hello``, ``/jobs``) under the URL's own path."""
        path = urllib.parse.urlsplit(self.url.strip()).path.rstrip("/").removesuffix(API_PREFIX)
        # http.client sends the path as it is given: letters outside ASCII are percent-encoded
        # here (what is already encoded stays so).
        return urllib.parse.quote(f"{path}{API_PREFIX}{tail}", safe="/%:@!$&'()*+,;=-._~")

    def make_transport(self) -> RemoteTransport:
        return RemoteTransport(self)


def token_problem(token: str) -> str:
    """Why ``token`` cannot be sent ('' when it can)."""
    if not token:
        return (f"no token for the remote backend: set {TOKEN_ENV}, or write the token on the first "
                f"line of the {TOKEN_FILE_NAME} file in Atelier's user folder")
    if len(token) > MAX_TOKEN_CHARS or not token.isascii() or not token.isprintable() or " " in token:
        return (f"the remote backend token ({TOKEN_ENV} or the {TOKEN_FILE_NAME} file) is not one "
                f"word of at most {MAX_TOKEN_CHARS} printable ASCII characters; put the server's token "
                "there alone")
    return ""


def read_token_file(path: str | Path) -> str:
    """The token on the first line of ``path``, stripped; '' when the file is missing or empty.
    Raises ``OSError`` when it exists but cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.readline(MAX_TOKEN_CHARS + 1).strip()
    except FileNotFoundError:
        return ""
