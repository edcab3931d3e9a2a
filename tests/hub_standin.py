"""A loopback stand-in for the Hugging Face hub, for download tests (the real hub cannot be reached).

It answers the requests huggingface_hub makes to download a model, in the hub's shape:
``GET /api/models/{id}[/revision/{rev}]`` (the commit ``sha``, ``siblings`` with sizes, blob ids
and LFS data, ``gated``, the licence in ``cardData`` and ``tags``) and ``HEAD``/``GET
/{id}/resolve/{rev}/{file}`` (``X-Repo-Commit``, ``ETag``, ``X-Linked-Etag``/``X-Linked-Size`` for
LFS files, ``Content-Length``, byte ranges). An unknown repository is 404 with ``X-Error-Code:
RepoNotFound``, an unknown revision ``RevisionNotFound``, an unknown file ``EntryNotFound``; a
gated repository's files answer 401 with ``X-Error-Code: GatedRepo``.

Switches a test sets: ``cut[path] = n`` ends every transfer of that file after byte ``n`` (as a
dropped connection does; retries resume past ``n`` and get nothing more); ``hold = path`` makes
the transfer of that file send its first half, set ``held`` and wait for ``release``. Every
request is logged in ``asked`` as ``(method, path)``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

HOLD_TIMEOUT_S = 60  # a held transfer goes on by itself after this, so a failed test cannot hang


@dataclass
class Repo:
    """One repository: its files (path -> bytes), commit, licence tag and whether it is gated."""

    files: dict[str, bytes]
    commit: str
    licence: str = "apache-2.0"
    gated: bool = False
    branches: tuple[str, ...] = ("main",)

    def etag(self, path: str) -> str:
        data = self.files[path]
        if _is_lfs(path):
            return hashlib.sha256(data).hexdigest()
        return _git_blob_id(data)

    def info(self) -> dict:
        siblings = []
        for path, data in sorted(self.files.items()):
            sibling = {"rfilename": path, "size": len(data), "blobId": _git_blob_id(data)}
            if _is_lfs(path):
                sibling["lfs"] = {"size": len(data), "sha256": self.etag(path), "pointerSize": 134}
            siblings.append(sibling)
        return {"id": "", "sha": self.commit, "siblings": siblings,
                "gated": "manual" if self.gated else False, "private": False,
                "cardData": {"license": self.licence}, "tags": [f"license:{self.licence}"]}


def _git_blob_id(data: bytes) -> str:
    """The id git gives a file's content (the hub's ``blobId`` and a non-LFS file's ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _is_lfs(path: str) -> bool:
    return path.endswith((".safetensors", ".bin"))


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` as ``{repository path: bytes}``."""
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@dataclass
class HubStandin:
    """The server's state; ``url`` is what ``HF_ENDPOINT`` gets."""

    repos: dict[str, Repo] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)
    cut: dict[str, int] = field(default_factory=dict)
    hold: str = ""
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def add(self, repo_id: str, files: dict[str, bytes], commit: str = "", **options) -> Repo:
        """Serve ``files`` as repository ``repo_id`` (commit derived from the id unless given)."""
        commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
        self.repos[repo_id] = Repo(files=files, commit=commit, **options)
        return self.repos[repo_id]

    def files_asked(self, repo_id: str) -> list[str]:
        """The files of ``repo_id`` the stand-in was asked for (HEAD or GET)."""
        prefix = f"/{repo_id}/resolve/"
        return [path[len(prefix):].split("/", 1)[1] for _, path in self.asked if path.startswith(prefix)]


@contextmanager
def serving(repos: dict[str, dict[str, bytes]]) -> Iterator[HubStandin]:
    """A fresh stand-in serving ``repos`` (``{repository id: files}``), stopped at the end (a
    held transfer is released first). The tests' ``hub`` fixtures are built on it."""
    state = HubStandin()
    for repo_id, files in repos.items():
        state.add(repo_id, dict(files))
    server = start(state)
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def start(state: HubStandin) -> ThreadingHTTPServer:
    """Serve ``state`` on a free loopback port (in a daemon thread); sets ``state.url``."""
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


class _Handler(BaseHTTPRequestHandler):
    state: HubStandin

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.state.asked.append((self.command, path))
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            self._model_info("/".join(parts[2:4]), parts[5] if parts[4:5] == ["revision"] else "main")
        elif len(parts) >= 5 and parts[2] == "resolve":
            self._file("/".join(parts[:2]), parts[3], "/".join(parts[4:]), body)
        else:
            self._error(404, "RepoNotFound", b"{}")

    def _repo(self, repo_id: str, revision: str) -> Repo | None:
        repo = self.state.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", b'{"error": "Repository not found"}')
        elif revision not in (*repo.branches, repo.commit):
            self._error(404, "RevisionNotFound", b'{"error": "Invalid rev id"}')
            repo = None
        return repo

    def _model_info(self, repo_id: str, revision: str) -> None:
        repo = self._repo(repo_id, revision)
        if repo is not None:
            data = json.dumps({**repo.info(), "id": repo_id}).encode()
            self._send(200, {"Content-Type": "application/json", "Content-Length": str(len(data))}, data)

    def _file(self, repo_id: str, revision: str, path: str, body: bool) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        if repo.gated:
            self._error(401, "GatedRepo", b'{"error": "Access to this model is restricted"}')
            return
        if path not in repo.files:
            self._error(404, "EntryNotFound", b'{"error": "Entry not found"}', repo.commit)
            return
        data = repo.files[path]
        start = 0
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes=") and ranged.endswith("-"):
            start = int(ranged[6:-1])
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{repo.etag(path)}"',
                   "Content-Length": str(len(data) - start), "Accept-Ranges": "bytes"}
        if _is_lfs(path):
            headers.update({"X-Linked-Etag": f'"{repo.etag(path)}"', "X-Linked-Size": str(len(data))})
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        self._send(206 if start else 200, headers, b"")
        if body:
            self._body(path, data, start)

    def _body(self, path: str, data: bytes, start: int) -> None:
        end = self.state.cut.get(path, len(data))
        if path == self.state.hold:
            half = max(start, len(data) // 2)
            self.wfile.write(data[start:half])
            self.wfile.flush()
            self.state.held.set()
            self.state.release.wait(HOLD_TIMEOUT_S)
            start = half
        self.wfile.write(data[start:max(start, end)])
        self.wfile.flush()
        self.close_connection = True

    def _error(self, status: int, code: str, data: bytes, commit: str = "") -> None:
        headers = {"X-Error-Code": code, "Content-Type": "application/json", "Content-Length": str(len(data))}
        if commit:
            headers["X-Repo-Commit"] = commit
        self._send(status, headers, data if self.command != "HEAD" else b"")

    def _send(self, status: int, headers: dict, data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)
