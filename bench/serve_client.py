"""A minimal client for ``python -m backend serve``, shared by the benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the extension folder: `python -m backend` runs here


class ServeProcess:
    """Starts the backend, waits for ``hello`` and runs requests one at a time."""

    def __init__(self, env: dict | None = None, python: str = sys.executable) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [python, "-m", "backend", "serve"], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})},
        )
        hello = self.read()
        if hello.get("type") != "hello":
            raise RuntimeError(f"expected hello, got {hello}")
        self.hello_s = time.perf_counter() - self.started

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the backend exited")
        return json.loads(line)

    def run(self, request: dict) -> tuple[dict, float]:
        """Send ``request``; returns its final event and the seconds from send to that event."""
        started = time.perf_counter()
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        while True:
            event = self.read()
            # An error without an id answers a line the backend could not read: this one.
            if event.get("id") in (request["id"], None) and event["type"] in ("result", "error"):
                return event, time.perf_counter() - started

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(60)
