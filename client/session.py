"""Jobs as plain functions: start one, drain the backend's events into it, or wait for it.

Operators are thin shells around these (see ``operators/backend_operator.py``): the UI drains from
a modal timer, ``blender -b`` waits. No bpy here except through the callers, so tests drive the
asynchronous path by calling ``drain`` themselves (timers never fire under the bpy module).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..core import protocol
from .backend_client import BackendClient, BackendConfig
from .transport import TransportClosed

EXTENSION_DIR = str(Path(__file__).resolve().parent.parent)


class JobRefused(Exception):
    """Raised by ``make_request`` to refuse before anything starts; the message says the fix."""


class ApplyError(Exception):
    """Raised by ``apply_result`` when the result cannot be applied; the scene is unchanged."""


@dataclass
class Job:
    """One request and what has come back for it so far."""

    request: protocol.Request
    label: str = ""
    step: int = 0
    total: int = 0
    stage: str = "starting backend"
    result: protocol.ResultEvent | None = None
    error: protocol.ErrorEvent | None = None
    cancel_requested: bool = False

    @property
    def id(self) -> str:
        return self.request.id

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None

    @property
    def cancelled(self) -> bool:
        return self.error is not None and self.error.code == "cancelled"

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total > 0 else 0.0


def format_error(message: str, hint: str = "") -> str:
    return f"{message} — {hint}" if hint else message


# ---------------------------------------------------------------------- the shared client

_client: BackendClient | None = None
_jobs: dict[str, Job] = {}
_unloaded_at: float | None = None  # client activity time when models were last freed


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def client_for(config: BackendConfig) -> BackendClient:
    """The one backend client; a changed configuration (interpreter, env) restarts it."""
    global _client
    if _client is not None and _client.config != config:
        # Jobs of the old backend would never hear back: end them with the reason.
        for job in list(_jobs.values()):
            job.error = protocol.ErrorEvent(
                id=job.id, code="backend_exited", hint="run it again",
                message="the backend was restarted because its settings changed")
        _jobs.clear()
        _client.stop()
        _client = None
    if _client is None:
        _client = BackendClient(config)
    return _client


def current_client() -> BackendClient | None:
    return _client


def active_jobs() -> list[Job]:
    return list(_jobs.values())


def submit(client: BackendClient, request: protocol.Request, label: str = "") -> Job:
    """Start a job; a backend that cannot be started becomes ``JobRefused`` with the reason."""
    try:
        client.submit(request)
    except TransportClosed as exc:  # its message says why, with the backend's last words
        raise JobRefused(f"{exc} — check the backend Python in Atelier's preferences "
                         "(or ATELIER_PYTHON) and press Doctor") from exc
    job = Job(request=request, label=label)
    _jobs[job.id] = job
    return job


def drain(client: BackendClient, timeout: float = 0.0) -> list[Job]:
    """Move every available event into its job; returns the jobs that finished now."""
    finished = []
    for event in client.poll(timeout):
        job = _jobs.get(getattr(event, "id", None) or "")
        if job is None or job.done:
            continue
        if isinstance(event, protocol.AcceptedEvent):
            job.stage = "queued" if event.position else "running"
        elif isinstance(event, protocol.ProgressEvent):
            job.step, job.total = event.step, event.total
            job.stage = event.stage or job.stage
        elif isinstance(event, protocol.ResultEvent):
            job.result = event
        elif isinstance(event, protocol.ErrorEvent):
            job.error = event
        if job.done:
            _jobs.pop(job.id, None)
            finished.append(job)
    return finished


def wait(client: BackendClient, job: Job, timeout: float | None = None,
         on_progress=None) -> Job:
    """Block until ``job`` ends (background mode); Ctrl-C cancels the job and is re-raised."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while not job.done:
            if deadline is not None and time.monotonic() > deadline:
                cancel(client, job)
                job.error = protocol.ErrorEvent(
                    id=job.id, code="cancelled", message=f"no answer within {timeout:.0f} s",
                    hint="the job was cancelled; try fewer steps or a smaller size")
                _jobs.pop(job.id, None)
                break
            before = (job.step, job.stage)
            drain(client, timeout=0.2)
            if on_progress is not None and (job.step, job.stage) != before:
                on_progress(job)
    except KeyboardInterrupt:
        cancel(client, job)
        raise
    return job


def cancel(client: BackendClient | None, job: Job) -> None:
    """Ask the backend to stop ``job``; its ``cancelled`` error event ends it."""
    job.cancel_requested = True
    if client is None or not client.send_if_running(
            protocol.CancelRequest(id=new_request_id(), job=job.id)):
        # Nothing to tell: the backend is gone, so the job ends here.
        job.error = protocol.ErrorEvent(id=job.id, code="cancelled", message="cancelled")
        _jobs.pop(job.id, None)


def abandon(job: Job, reason: str) -> None:
    """Cancel ``job`` and end it here at once, without waiting for the backend to confirm."""
    if not job.done:
        cancel(_client, job)
        job.error = protocol.ErrorEvent(id=job.id, code="cancelled", message=reason)
    _jobs.pop(job.id, None)


def abandon_all(reason: str = "another file was loaded") -> None:
    """End every job so no result is ever applied (``load_pre``)."""
    for job in list(_jobs.values()):
        abandon(job, reason)


def unload(client: BackendClient | None = None) -> bool:
    """Ask a running backend to free every cached model; False when none runs."""
    global _unloaded_at
    client = client or _client
    if client is None or not client.send_if_running(protocol.UnloadRequest(id=new_request_id())):
        return False
    _unloaded_at = client.last_activity
    return True


def unload_if_idle(idle_seconds: float) -> bool:
    """Free the backend's models once no job ran for ``idle_seconds``; True when asked now."""
    client = _client
    if client is None or idle_seconds <= 0 or _jobs or not client.running():
        return False
    if client.last_activity == _unloaded_at:
        return False  # nothing happened since the last unload
    if time.monotonic() - client.last_activity < idle_seconds:
        return False
    return unload(client)


def shutdown() -> None:
    """Stop the backend and forget every job (unregister, Blender quitting)."""
    global _client
    _jobs.clear()
    if _client is not None:
        _client.stop()
        _client = None
