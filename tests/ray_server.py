"""``python -m backend ray-serve`` as a subprocess for tests: a local Ray on loopback, offline,
with only the settings a test names (``backend_process.backend_environment``). Starting Ray takes
seconds, so a test session starts one (the ``ray_backend`` fixture) and shares it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from backend_process import ROOT, backend_environment

READY = "atelier ray-serve ready on "
START_TIMEOUT_S = 240
STOP_TIMEOUT_S = 60


@dataclass
class RayServeProcess:
    """A running server: its base URL, its token (and the other users' tokens it accepts), the
    driver's pid (also the session id of every Ray process it started) and its log file."""

    url: str
    token: str
    pid: int
    log_path: Path
    proc: subprocess.Popen = field(repr=False)
    other_tokens: tuple = ()
    leftovers: list = field(default_factory=list)  # (pid, command) of Ray processes ``stop`` had to kill

    def log(self) -> str:
        """The end of the server's stderr (Ray's and the replicas' logs)."""
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> int:
        """SIGTERM (the server shuts Serve and Ray down; kill it if it hangs); returns its exit
        status. Ray processes still running after it ended are killed and listed in ``leftovers``,
        so a test can require none."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.leftovers = [(pid, _command_line(pid)[:80]) for pid in session_processes(self.pid)]
        for pid, _ in self.leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return self.proc.returncode

    def worker_replica_pids(self) -> list[int]:
        """Process ids of this server's worker replicas (Ray names them by deployment)."""
        return [pid for pid in session_processes(self.pid)
                if _command_line(pid).startswith("ray::ServeReplica:atelier:AtelierWorker")]


def session_processes(session_id: int) -> list[int]:
    """Processes of the session the server leads (Linux): itself, Ray's processes, the replicas."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                # Fields after the command name, which may hold spaces: state ppid pgrp session ...
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended meanwhile
            if int(fields[3]) == session_id:
                found.append(int(entry.name))
    return found


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_ray_serve(tmp_dir: Path, token: str, env: dict | None = None, replicas: int = 1,
                    max_replicas: int = 1, model_dirs: tuple = (),
                    other_tokens: tuple = ()) -> RayServeProcess:
    """Start the server on a free loopback port and wait for its ready line. ``other_tokens``:
    more users' tokens, given with ``token`` in a token file."""
    port = free_port()
    log_path = Path(tmp_dir) / f"ray-serve-{port}.log"
    command = [sys.executable, "-m", "backend", "ray-serve", "--host", "127.0.0.1", "--port", str(port),
               "--replicas", str(replicas), "--max-replicas", str(max_replicas)]
    if other_tokens:
        token_file = Path(tmp_dir) / f"tokens-{port}"
        token_file.write_text("\n".join((token, *other_tokens)) + "\n")
        command += ["--token-file", str(token_file)]
    for folder in model_dirs:
        command += ["--model-dir", str(folder)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log,
                                env=backend_environment({**(env or {}), "ATELIER_BACKEND_TOKEN": token}),
                                start_new_session=True)  # its own group: stop() can end all of Ray
    ready = threading.Event()

    def read() -> None:
        for raw in proc.stdout:
            if raw.decode("utf-8", "replace").startswith(READY):
                ready.set()
        ready.set()  # stdout closed: the server ended

    threading.Thread(target=read, daemon=True).start()
    server = RayServeProcess(f"http://127.0.0.1:{port}", token, proc.pid, log_path, proc, tuple(other_tokens))
    if not ready.wait(START_TIMEOUT_S) or proc.poll() is not None:
        server.stop()
        raise RuntimeError(f"ray-serve did not start; log:\n{server.log()}")
    return server


# --------------------------------------------------------------------------- HTTP calls for tests

HTTP_TIMEOUT_S = 120


def call(server: RayServeProcess, method: str, path: str, token: str | None = "", **kwargs):
    """One HTTP call to the server with ``token`` ("" = the server's own, None = no header)."""
    import requests

    token = server.token if token == "" else token
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(method, server.url + path, headers={**headers, **kwargs.pop("headers", {})},
                            timeout=HTTP_TIMEOUT_S, **kwargs)


def submit(server: RayServeProcess, request: dict, files: dict | None = None, token: str | None = ""):
    """``POST /v1/jobs`` with the request part and one part per input file (bytes)."""
    import json

    parts = {"request": (None, json.dumps(request), "application/json")}
    for name, data in (files or {}).items():
        parts[name] = (name, data, "application/octet-stream")
    return call(server, "POST", "/v1/jobs", token, files=parts)


def stream_events(server: RayServeProcess, job: str, token: str | None = ""):
    """The job's event stream, one decoded event at a time as it arrives."""
    import json

    with call(server, "GET", f"/v1/jobs/{job}/events", token, stream=True) as response:
        assert response.status_code == 200, response.text
        for line in response.iter_lines():
            if line:
                yield json.loads(line)


def run_job(server: RayServeProcess, request: dict, files: dict | None = None) -> tuple[str, list[dict]]:
    """Submit a job and read its events to the end: (server job id, events)."""
    answer = submit(server, request, files)
    assert answer.status_code == 202, answer.text
    job = answer.json()["job"]
    return job, list(stream_events(server, job))
