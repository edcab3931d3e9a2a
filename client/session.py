"""Jobs as plain functions: start one, drain the backend's events into it, or wait for it.

Operators are thin shells around these (see ``operators/backend_operator.py``): the UI drains from
a modal timer, ``blender -b`` waits. No bpy here except through the callers, so tests drive the
asynchronous path by calling ``drain`` themselves (timers never fire under the bpy module).

``submit`` sends nothing the backend would skip, refuse or cut short for its form alone (a prompt
over ``limits.MAX_PROMPT_CHARS``, a number JSON cannot carry, a line over ``protocol.MAX_LINE_BYTES``,
which the backend skips without knowing whose it was): that is ``JobRefused`` saying what to change.

A request that names an ``output_dir`` gets a folder of its own: ``submit`` makes
``<output_dir>/<id>/`` (``job_folder``) and sends that instead. A result is parsed once, as it
arrives (``core.results.parse_result``): ``job.result`` is typed, and a malformed result, or one
naming a file outside the job's folder, ends the job with an ``invalid_output`` error at once.
The folder is removed when the job fails or is cancelled, after a result once ``release``
says it was applied (or is not wanted), and at ``shutdown`` (Blender quitting); the folders a
crashed Blender left go at the next session's first job (``job_folder.sweep``).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..core import limits, protocol, results
from . import job_folder
from .backend_client import BackendClient, BackendConfig
from .text_server import TextServerConfig
from .transport import TransportClosed

EXTENSION_DIR = str(Path(__file__).resolve().parent.parent)
# ``wait`` (background mode, where nobody can press Esc) takes a backend that has said nothing
# for this long while a job waits for hung: it is stopped and its jobs end with the reason.
# Every step of a job and every model load that reports progress resets the clock; an hour
# outlasts the slowest silent stretch known (a model download on a slow line).
SILENCE_SECONDS = 3600.0


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
    result: results.Result | None = None  # typed on receipt (``core.results.parse_result``)
    # The finished pixels sent ahead of the result (``early_pixels`` requests): checked on
    # receipt; one that fails the checks is dropped (the result still decides the job).
    early: results.EarlyPixels | None = None
    error: protocol.ErrorEvent | None = None
    cancel_requested: bool = False
    folder: job_folder.JobFolder | None = None  # the folder the client made for its files
    client: BackendClient | None = None  # the one it was sent to (the backend, or a text server)

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
# Palettes from a prompt and scene ideas go here when a text server is set (``text_server.py``);
# apart from ``_client``, so the backend keeps its models and jobs while the server answers.
_text_client: BackendClient | None = None
_jobs: dict[str, Job] = {}
# Folders of jobs that ended with a result not yet released, and of jobs ended here while the
# backend may still write (abandoned): removed by ``release``, the backend's last word, ``shutdown``.
_kept: dict[str, job_folder.JobFolder] = {}
_orphans: dict[str, job_folder.JobFolder] = {}
_unloaded_at: float | None = None  # client activity time when models were last freed


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def client_for(config: BackendConfig | TextServerConfig) -> BackendClient:
    """The one backend client, or the one text server client for a ``TextServerConfig``; a
    changed configuration (interpreter, env; URL, model) restarts it."""
    global _client, _text_client
    if isinstance(config, TextServerConfig):
        if _text_client is not None and _text_client.config != config:
            _stop_backend(_text_client, "the text server settings changed", "run it again")
            _text_client = None
        if _text_client is None:
            _text_client = BackendClient(config)
        return _text_client
    if _client is not None and _client.config != config:
        _stop_backend(_client, "the backend was restarted because its settings changed", "run it again")
        _client = None
        _remove_left_folders()
    if _client is None:
        _client = BackendClient(config)
    return _client


def _stop_backend(client: BackendClient, message: str, hint: str) -> None:
    """Stop ``client``'s backend; its jobs would never hear back, so they end here with
    ``backend_exited`` and the reason."""
    ended = [job for job in _jobs.values() if job.client in (client, None)]
    for job in ended:
        job.error = protocol.ErrorEvent(id=job.id, code="backend_exited", message=message, hint=hint)
        _jobs.pop(job.id, None)
    client.stop()
    for job in ended:  # nothing writes into their folders any more
        _remove_folder(job)


def current_client() -> BackendClient | None:
    return _client


def active_jobs() -> list[Job]:
    return list(_jobs.values())


def submit(client: BackendClient, request: protocol.Request, label: str = "") -> Job:
    """Start a job; ``JobRefused`` with what to change for a request the backend would skip,
    refuse or cut short for its form alone (a prompt over the cap, ``request_problem``), and with
    the reason for a backend that cannot be started.

    A request with an ``output_dir`` (the jobs folder) gets its own new folder inside it,
    ``<output_dir>/<id>/``, which is what the backend is told to write in. Nothing is left of it
    when the request is not sent, however that fails."""
    problem = limits.request_prompts_problem(request)  # before anything is made
    if problem:
        raise JobRefused(problem)
    folder = None
    if getattr(request, "output_dir", ""):
        try:
            folder = job_folder.create(request.output_dir, request.id)
        except job_folder.JobFolderError as exc:
            raise JobRefused(str(exc)) from None
        request = dataclasses.replace(request, output_dir=str(folder.path))
    try:
        _send(client, request)
    except BaseException:
        if folder is not None:
            folder.remove()
        raise
    job = Job(request=request, label=label, folder=folder, client=client)
    _jobs[job.id] = job
    return job


def _send(client: BackendClient, request: protocol.Request) -> None:
    """Send ``request`` as it is (its folder named); ``JobRefused`` when it cannot be."""
    problem = request_problem(request)
    if problem:
        raise JobRefused(problem)
    try:
        client.submit(request)
    except TransportClosed as exc:  # its message says why, with the backend's last words
        # A remote backend's refusal names the setting to change already; a local process's
        # last words do not.
        advice = (" — check the backend Python in Atelier's preferences (or ATELIER_PYTHON) and press "
                  "Doctor" if isinstance(client.config, BackendConfig) else "")
        raise JobRefused(f"{exc}{advice}") from exc


def request_problem(request: protocol.Request) -> str:
    """What to change so that ``request`` can be sent as one protocol line the backend reads
    ('' when it can): numbers that JSON cannot carry (NaN, infinity), text that is not Unicode,
    or a line over ``protocol.MAX_LINE_BYTES``, which the backend would skip without knowing
    whose it was (the job would never hear back)."""
    try:
        size = len(protocol.encode(request).encode("utf-8"))
    except ValueError:  # UnicodeEncodeError is one
        # The check the backend makes of every line it reads: it names the field.
        problem = protocol.value_problem(request.to_dict()) or "it cannot be written as JSON"
        return f"the {request.type} request cannot be sent: {problem}; change that setting"
    if size <= protocol.MAX_LINE_BYTES:
        return ""
    fields = request.to_dict()
    longest = max(fields, key=lambda name: len(json.dumps(fields[name], ensure_ascii=False)))
    return (f"the {request.type} request is {size:,} bytes, more than the backend reads in one line "
            f"({protocol.MAX_LINE_BYTES:,}); shorten its longest field, {longest!r}")


def release(result_id: str) -> None:
    """Remove the folder of the job whose result ``result_id`` was applied (or is not wanted)."""
    folder = _kept.pop(result_id, None)
    if folder is not None:
        folder.remove()


def drain(client: BackendClient, timeout: float = 0.0) -> list[Job]:
    """Move every available event into its job; returns the jobs that finished now."""
    finished = []
    for event in client.poll(timeout):
        event_id = getattr(event, "id", None) or ""
        if isinstance(event, (protocol.ResultEvent, protocol.ErrorEvent)) and event_id in _orphans:
            _orphans.pop(event_id).remove()  # the backend is done with an abandoned job's folder
        job = _jobs.get(event_id)
        if job is None or job.done:
            continue
        if isinstance(event, protocol.AcceptedEvent):
            job.stage = "queued" if event.position else "running"
        elif isinstance(event, protocol.ProgressEvent):
            job.step, job.total = event.step, event.total
            job.stage = event.stage or "running"  # a step without a stage name: the job runs
        elif isinstance(event, protocol.ImageEvent):
            _receive_early(job, event)
        elif isinstance(event, protocol.ResultEvent):
            _receive(job, event)
        elif isinstance(event, protocol.ErrorEvent):
            job.error = event
        if job.done:
            _jobs.pop(job.id, None)
            if job.result is not None and job.folder is not None and not job.folder.removed:
                _kept[job.id] = job.folder  # until ``release``: the result's files are in it
            else:
                _remove_folder(job)
            finished.append(job)
    return finished


def _receive(job: Job, event: protocol.ResultEvent) -> None:
    """Parse the result once; a malformed one ends the job with ``invalid_output``."""
    folder = job.folder.path if job.folder is not None else None
    try:
        result = results.parse_result(job.request.type, event, folder)
        # The request, not the files, says which kind is wanted: raw preview pixels must never
        # reach code that reads a base_color image, nor a full texture the live preview.
        preview = bool(getattr(job.request, "preview", False))
        if isinstance(result, results.PreviewResult) != preview:
            wanted = "preview pixels" if preview else "a base_color image"
            raise results.ResultError(f"the request asked for {wanted}; the result is not that")
        job.result = result
    except results.ResultError as exc:
        job.error = protocol.ErrorEvent(
            id=job.id, code="invalid_output", message=f"the backend's result cannot be used: {exc}",
            hint="nothing was applied; run it again, and run Doctor if it keeps happening")
        return
    if not event.files and job.folder is not None:
        job.folder.remove()  # nothing to read from it


def _receive_early(job: Job, event: protocol.ImageEvent) -> None:
    """Keep the early pixels of a job that asked for them, once checked; drop anything else."""
    if not getattr(job.request, "early_pixels", False) or job.early is not None:
        return
    try:
        job.early = results.parse_early_pixels(event, job.folder.path if job.folder is not None else None)
    except results.ResultError:
        pass  # nothing is shown early; the result is applied as usual, or fails on its own


def _remove_folder(job: Job) -> None:
    if job.folder is not None:
        job.folder.remove()


def _orphan(job: Job) -> None:
    """Job ``job`` ended here while the backend may still write into its folder: remove the
    folder once the backend's own last word on it arrives (or at ``shutdown``)."""
    if job.folder is not None and not job.folder.removed:
        _orphans[job.id] = job.folder


def _remove_left_folders() -> None:
    """Remove every folder still kept: abandoned jobs' and results never released."""
    for folder in list(_orphans.values()) + list(_kept.values()):
        folder.remove()
    _orphans.clear()
    _kept.clear()


def wait(client: BackendClient, job: Job, timeout: float | None = None,
         on_progress=None) -> Job:
    """Block until ``job`` ends (background mode); Ctrl-C cancels the job and is re-raised.

    Never for ever: past ``timeout`` seconds (None: no limit of its own) the job is cancelled,
    and once the backend has said nothing for ``SILENCE_SECONDS`` it is stopped as hung and
    the job ends with ``backend_exited`` (the next request starts a fresh backend)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while not job.done:
            if time.monotonic() - client.last_activity > SILENCE_SECONDS:
                _stop_backend(client, f"the backend said nothing for {SILENCE_SECONDS:g} s while "
                                      f"{job.label or 'a job'} waited, so it was stopped as hung",
                              "run it again; if it happens again, run Doctor in Atelier's preferences")
                break
            if deadline is not None and time.monotonic() > deadline:
                cancel(client, job)
                job.error = protocol.ErrorEvent(
                    id=job.id, code="cancelled", message=f"no answer within {timeout:.0f} s",
                    hint="the job was cancelled; try fewer steps or a smaller size")
                _jobs.pop(job.id, None)
                _orphan(job)
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
    """Ask the backend (the one ``job`` was sent to, else ``client``) to stop ``job``; its
    ``cancelled`` error event ends it."""
    job.cancel_requested = True
    client = job.client or client
    if client is None or not client.send_if_running(
            protocol.CancelRequest(id=new_request_id(), job=job.id)):
        # Nothing to tell: the backend is gone, so the job ends here, and a fresh backend must
        # never get it (one that died before reading it would have it sent again).
        if client is not None:
            client.forget(job.id)
        job.error = protocol.ErrorEvent(id=job.id, code="cancelled", message="cancelled")
        _jobs.pop(job.id, None)
        _remove_folder(job)


def abandon(job: Job, reason: str) -> None:
    """Cancel ``job`` and end it here at once, without waiting for the backend to confirm."""
    if not job.done:
        cancel(_client, job)
        job.error = protocol.ErrorEvent(id=job.id, code="cancelled", message=reason)
        _orphan(job)
    _jobs.pop(job.id, None)


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
    global _client, _text_client
    ended = list(_jobs.values())
    _jobs.clear()
    for client in (_client, _text_client):
        if client is not None:
            client.stop()
    _client = _text_client = None
    for job in ended:  # the backend has stopped: nothing writes into their folders any more
        _remove_folder(job)
    _remove_left_folders()
