"""The real ``python -m backend serve`` process for protocol-level tests, with a reader thread
for its stdout. ``faults=True`` starts it through ``fault_backend.py``, which arms the test-only
fault hooks before the backend runs (they are not part of the shipped backend)."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

from backend_process import ROOT, backend_environment

TIMEOUT_S = 120
FAULT_LAUNCHER = Path(__file__).resolve().parent / "fault_backend.py"


class Backend:
    """A ``python -m backend serve`` subprocess with a reader thread for its stdout."""

    def __init__(self, log_dir: Path, *args: str, env: dict | None = None, faults: bool = False) -> None:
        self.log_path = log_dir / f"backend-{len(list(log_dir.glob('backend-*')))}.log"
        self._log = open(self.log_path, "wb")  # closed in close()
        command = [str(FAULT_LAUNCHER)] if faults else ["-m", "backend"]
        self.proc = subprocess.Popen(
            [sys.executable, *command, "serve", *args], cwd=ROOT,
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
