"""Backend test kit: tiny pipelines built once, and the real ``serve`` process to talk to."""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from backend_process import ROOT, backend_environment

# Arms the texture task's test hook: this prompt raises OutOfMemoryError at the first step.
OOM_PROMPT = "trigger the out-of-memory test hook"
TIMEOUT_S = 120
_job_ids = itertools.count()


@pytest.fixture(scope="session")
def tiny_sd(tiny_sd_model) -> Path:
    """A tiny SD 1.x-shaped pipeline folder (64 px native), the one the Blender tests use;
    tests that change a model change a copy."""
    return tiny_sd_model


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory) -> Path:
    """A tiny SDXL-shaped pipeline folder (two text encoders, text_time conditioning)."""
    from backend.tiny_models import build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="session")
def tiny_flux(tmp_path_factory) -> Path:
    """A tiny FLUX-shaped pipeline folder (CLIP + T5 encoders, flow-matching transformer)."""
    from backend.tiny_models import build_tiny_flux

    return build_tiny_flux(tmp_path_factory.mktemp("models") / "tiny-flux")


class Backend:
    """A ``python -m backend serve`` subprocess with a reader thread for its stdout."""

    def __init__(self, log_dir: Path, *args: str, env: dict | None = None) -> None:
        self.log_path = log_dir / f"backend-{len(list(log_dir.glob('backend-*')))}.log"
        self._log = open(self.log_path, "wb")  # closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", *args], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            # Only the settings a test names: none leak in from the environment the suite runs in.
            env=backend_environment(env),
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.stash: list[dict] = []

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.decode("utf-8"))
        self.lines.put(None)

    def send(self, message: dict | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        self.proc.stdin.write(text.encode("utf-8") + b"\n")
        self.proc.stdin.flush()

    def next_event(self, timeout: float = TIMEOUT_S) -> dict | None:
        """The next event (every stdout line must be one JSON object); None at EOF."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s; log:\n{self.log()}") from None
        if line is None:
            return None
        event = json.loads(line)
        assert isinstance(event, dict) and "type" in event, line
        return event

    def events_for(self, request_id: str, timeout: float = TIMEOUT_S) -> list[dict]:
        """Events of one request up to and including its ``result`` or ``error``."""
        found = [e for e in self.stash if e.get("id") == request_id]
        self.stash = [e for e in self.stash if e.get("id") != request_id]
        while not found or found[-1]["type"] not in ("result", "error"):
            event = self.next_event(timeout)
            assert event is not None, f"backend exited; log:\n{self.log()}"
            if event.get("id") == request_id:
                found.append(event)
            else:
                self.stash.append(event)
        return found

    def wait_for_progress(self, request_id: str, timeout: float = TIMEOUT_S) -> None:
        """Wait until job ``request_id`` reports a denoising step; other events are kept for later."""
        while True:
            event = self.next_event(timeout)
            assert event is not None, f"backend exited; log:\n{self.log()}"
            if event.get("id") == request_id and event["type"] == "progress":
                return
            assert event.get("id") != request_id or event["type"] == "accepted", event
            self.stash.append(event)

    def request(self, message: dict) -> dict:
        """Send a request and return its final event."""
        self.send(message)
        return self.events_for(message["id"])[-1]

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def start_backend(tmp_path_factory):
    """Factory for serve processes; all are closed at the end of the session."""
    log_dir = tmp_path_factory.mktemp("backend-logs")
    started = []

    def start(*args: str, env: dict | None = None) -> Backend:
        backend = Backend(log_dir, *args, env=env)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.close()


@pytest.fixture(scope="session")
def oom_prompt() -> str:
    """The prompt that makes the shared server's texture task raise OutOfMemoryError."""
    return OOM_PROMPT


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory) -> Path:
    """An empty Hugging Face cache folder the shared server uses (tests add snapshots)."""
    return tmp_path_factory.mktemp("hf-cache")


@pytest.fixture(scope="session")
def backend(start_backend, hub_cache) -> Backend:
    """The shared serve process (max size 512, the out-of-memory test hook armed)."""
    server = start_backend("--max-size", "512",
                           env={"ATELIER_TEST_OOM_PROMPT": OOM_PROMPT, "HF_HUB_CACHE": str(hub_cache)})
    hello = server.next_event()
    assert hello["type"] == "hello", hello
    return server


@pytest.fixture
def texture_request(tiny_sd, tmp_path):
    """Builds a valid small texture request; keyword arguments override fields."""
    def make(**fields) -> dict:
        request = {"type": "texture", "id": f"job-{next(_job_ids)}", "prompt": "weathered red bricks",
                   "output_dir": str(tmp_path / "out"), "model": str(tiny_sd), "width": 64,
                   "height": 64, "steps": 2, "seed": 7}
        request.update(fields)
        return request

    return make

