"""With downloads allowed, the hub is asked first: an id it answers "not found" for is reported
as withdrawn or renamed with the alternatives, a gated one as gated. The hub here is a real
HTTP server on loopback (``HF_ENDPOINT``) answering as huggingface.co does; nothing leaves the
machine."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from backend_process import run_backend

from core import texture_models
from core.families import DEFAULT_TEXT_MODEL, DEFAULT_TEXTURE_MODEL

WITHDRAWN = "atelier-test/withdrawn-model"
GATED = "atelier-test/gated-model"


class _Hub(BaseHTTPRequestHandler):
    """Answers every request as the hub does for a missing repository, or a gated one."""

    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.asked.append(self.path)
        status, code = (403, "GatedRepo") if GATED in self.path else (404, "RepoNotFound")
        body = b'{"error": "Repository not found"}'
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def hub():
    """The loopback hub: yields (endpoint URL, the paths it was asked for)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Hub.asked
    server.shutdown()
    server.server_close()


def _online(endpoint: str, tmp_path) -> dict:
    """The backend's environment with downloads on, pointed at the loopback hub and an empty cache."""
    return {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf-home"),
            "HF_HUB_CACHE": str(tmp_path / "hf-cache"), "HF_HUB_DISABLE_TELEMETRY": "1"}


def test_a_texture_model_the_hub_does_not_know_is_withdrawn_or_renamed(hub, tmp_path):
    endpoint, asked = hub
    done = run_backend("texture", "bricks", "--out", str(tmp_path / "x.png"), "--model", WITHDRAWN,
                       "--allow-network", env=_online(endpoint, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"/api/models/{WITHDRAWN}/auth-check" in asked  # it asked the (loopback) hub
    assert (f"error (model_missing): model {WITHDRAWN!r} was not found on the Hugging Face hub: "
            "it was withdrawn or renamed (or is private)") in done.stderr
    assert f"hint: {texture_models.replacement_hint(WITHDRAWN)}" in done.stderr
    assert DEFAULT_TEXTURE_MODEL in done.stderr and texture_models.LIGHTER.id in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x.png").exists()


def test_a_text_model_the_hub_does_not_know_suggests_a_text_model(hub, tmp_path):
    endpoint, _ = hub
    done = run_backend("ideas", "a cozy cabin", "--model", WITHDRAWN, "--allow-network",
                       env=_online(endpoint, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "withdrawn or renamed" in done.stderr and DEFAULT_TEXT_MODEL in done.stderr
    assert DEFAULT_TEXTURE_MODEL not in done.stderr  # texture models are no answer here


def test_a_gated_model_says_to_accept_its_licence_not_that_it_is_gone(hub, tmp_path):
    """The hub's gated answer is a kind of "not found" in huggingface_hub; it must not read as one."""
    endpoint, _ = hub
    done = run_backend("texture", "bricks", "--out", str(tmp_path / "x.png"), "--model", GATED,
                       "--allow-network", env=_online(endpoint, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"model {GATED!r} is gated on the Hugging Face hub" in done.stderr
    assert f"https://huggingface.co/{GATED}" in done.stderr and "hf auth login" in done.stderr
    assert "withdrawn" not in done.stderr
