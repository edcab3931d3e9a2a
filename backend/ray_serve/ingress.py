"""The ingress deployment: Atelier's HTTP protocol (core/PROTOCOL.md, "Over HTTP") in FastAPI.

Every path needs the bearer token; the check runs before anything else, so a request without it
runs nothing. Jobs go to the worker deployment and run in the background; their events are kept
here (replayable) and their result files in this replica's own temporary folder.
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations as types.
import asyncio
import errno
import logging
import os
import re
import shutil
import sys
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from ray import serve
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, RayTaskError

from core import __version__, limits, protocol
from core.errors import first_line

from ..server import capabilities
from . import auth, jobs, uploads, vetting

log = logging.getLogger("atelier.ray_serve")
MAX_JOBS_ENV = "ATELIER_SERVE_MAX_JOBS"
MAX_JOBS_PER_TOKEN_ENV = "ATELIER_SERVE_MAX_JOBS_PER_TOKEN"
MAX_WAITING_BYTES_ENV = "ATELIER_SERVE_MAX_WAITING_MB"
DEFAULT_MAX_UNFINISHED = 256  # jobs accepted and not finished; more -> 503 until some finish
DEFAULT_MAX_PER_TOKEN = 32  # so one user cannot take every place of the queue
DEFAULT_MAX_WAITING_MB = 1024  # uploads held until a replica takes their job
NDJSON = "application/x-ndjson"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # Ray colours the tracebacks it forwards
_FILE_FORMAT = re.compile(r"^[a-z0-9]{1,8}$")  # a result file's format becomes its extension
_REPLICA_GONE = (ActorDiedError, ActorUnavailableError, RayActorError)

app = FastAPI(title="Atelier", docs_url=None, redoc_url=None, openapi_url=None)


class Unauthorized(Exception):
    """No token or a wrong one: every path answers 401 and runs nothing."""


@app.exception_handler(Unauthorized)
async def unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
    return error_response(401, "unauthorized", "the backend token is missing or wrong",
                          "set ATELIER_BACKEND_TOKEN (or the remote_token file) to the server's token",
                          headers={"WWW-Authenticate": "Bearer"})


def error_response(status: int, code: str, message: str, hint: str = "", request_id: str | None = None,
                   headers: dict | None = None) -> JSONResponse:
    """An ``error`` event as the body of a non-2xx answer."""
    body = {"type": "error", "id": request_id, "code": code, "message": message, "hint": hint}
    return JSONResponse(body, status_code=status, headers=headers)


def not_found() -> JSONResponse:
    """The one answer for an unknown job, an unknown role and another token's job."""
    return error_response(404, "bad_request", "no such job or file",
                          "the job may have been deleted or forgotten; start it again")


def plain(text: str) -> str:
    """One line of ``text`` without the terminal colour codes Ray adds."""
    return first_line(_ANSI.sub("", text))[:1000] if text else ""


def _internal(job: jobs.Job, message: str, hint: str = "") -> protocol.ErrorEvent:
    return protocol.ErrorEvent(id=job.request_id, code="internal", message=message, hint=hint)


def _positive_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else default


@serve.deployment(name="AtelierIngress", num_replicas=1, ray_actor_options={"num_cpus": 0})
@serve.ingress(app)
class Ingress:
    """Auth, the job registry, uploads and downloads; one replica. Every handler is ``async``: the
    registry is touched only from the replica's event loop, never from a thread pool."""

    def __init__(self, worker, tokens: list[str], model_dirs: list[str], temp_root: str,
                 allow_downloads: bool = False) -> None:
        self._worker = worker
        self._tokens = tokens
        self._model_dirs = [Path(folder) for folder in model_dirs]
        self._allow_downloads = allow_downloads
        self._registry = jobs.Registry(Path(temp_root) / "jobs")
        self._max_unfinished = _positive_env(MAX_JOBS_ENV, DEFAULT_MAX_UNFINISHED)
        self._max_per_token = _positive_env(MAX_JOBS_PER_TOKEN_ENV, DEFAULT_MAX_PER_TOKEN)
        self._max_waiting_bytes = _positive_env(MAX_WAITING_BYTES_ENV, DEFAULT_MAX_WAITING_MB) * 2**20
        self._expiry: asyncio.Task | None = None
        if not log.handlers:  # the replica's stderr reaches the server's: one line per accepted job
            log.addHandler(logging.StreamHandler(sys.stderr))
            log.setLevel(logging.INFO)

    def __del__(self) -> None:
        """Serve calls this when it stops the replica gracefully: every job's files go."""
        shutil.rmtree(self._registry.root, ignore_errors=True)

    def _owner(self, request: Request) -> str:
        """Who asks (the hash of their token); raises ``Unauthorized`` before anything runs."""
        given = auth.bearer_token(request.headers.get("authorization"))
        if not auth.token_accepted(given, self._tokens):
            raise Unauthorized()
        if self._expiry is None:  # started on the replica's event loop, which serves the handlers
            interval = min(60.0, max(1.0, self._registry.ttl_s / 2))
            self._expiry = asyncio.get_running_loop().create_task(
                self._registry.expire_periodically(interval))
        return auth.token_hash(given)

    @app.get("/v1/hello")
    async def hello(self, request: Request) -> dict:
        self._owner(request)
        served = [c for c in capabilities() if c != "unload" and c not in vetting.MODEL_MANAGEMENT_TYPES]
        event = protocol.HelloEvent(backend_version=__version__, pid=0, limits=limits.as_dict(),
                                    capabilities=served)
        return {**event.to_dict(), "transport": "http"}

    @app.post("/v1/jobs", status_code=202)
    async def submit(self, request: Request):
        owner = self._owner(request)
        content_type = request.headers.get("content-type", "")
        try:
            uploads.check_form_type(content_type)  # before reading a byte of the body
            body = await uploads.read_body(request.stream(), request.headers.get("content-length"))
            parts = await asyncio.to_thread(uploads.form_parts, body, content_type)
            del body
            job_request = vetting.job_request(parts, self._model_dirs, self._allow_downloads)
        except uploads.TooLarge as exc:
            return error_response(413, "bad_request", str(exc),
                                  f"send at most {uploads.MAX_FILE_PART_BYTES // 2**20} MiB per file and "
                                  f"{uploads.MAX_BODY_BYTES // 2**20} MiB in all")
        except uploads.BadUpload as exc:
            return error_response(400, "bad_request", str(exc),
                                  "POST multipart/form-data: a request part and one part per input file")
        except vetting.Refused as exc:
            return JSONResponse(exc.event.to_dict(), status_code=400)
        files = {name: parts[name] for name in protocol.input_files(job_request)}
        size = sum(len(data) for data in files.values())
        busy = self._busy(owner, size)
        if busy:
            return error_response(503, "bad_request", busy, "try again when some jobs have finished",
                                  job_request.id)
        job = self._registry.create(owner, job_request.id, size)
        log.info("job accepted: request %s", job_request.id)
        fields = job_request.to_dict()
        for name in files:
            fields[name] = ""  # the worker puts its own copy of the uploaded part here
        await job.add(protocol.AcceptedEvent(id=job.request_id, position=self._registry.waiting_ahead(job)),
                      self._registry.clock())
        job.runner = asyncio.create_task(self._drive(job, fields, files))
        return {"job": job.key, "id": job.request_id}

    def _busy(self, owner: str, upload_bytes: int) -> str:
        """Why the server takes no more jobs now ("" when it does)."""
        if self._registry.unfinished() >= self._max_unfinished:
            return f"the server already has {self._max_unfinished} jobs waiting or running"
        if self._registry.unfinished(owner) >= self._max_per_token:
            return f"this token already has {self._max_per_token} jobs waiting or running"
        if self._registry.waiting_upload_bytes() + upload_bytes > self._max_waiting_bytes:
            return (f"the server already holds {self._max_waiting_bytes // 2**20} MiB of uploads for "
                    "waiting jobs")
        return ""

    async def _drive(self, job: jobs.Job, fields: dict, files: dict[str, bytes]) -> None:
        """Run the job on a worker replica, recording its events and keeping its result files."""
        response = self._worker.options(stream=True).run.remote(fields, files)
        del files  # the call holds the uploads until a replica takes them; this task lets go
        job.response = response
        try:
            async for item in response:
                job.started = True
                event, saved = await asyncio.to_thread(self._keep, job, item)
                job.files.update(saved)  # here, on the event loop that serves the file requests
                await job.add(event, self._registry.clock())
        except Exception as exc:  # a cancel, the job's failure, or the replica died
            job.started = True
            await job.add(self._failure(job, exc), self._registry.clock())
        if not job.finished:
            await job.add(protocol.ErrorEvent(
                id=job.request_id, code="backend_exited",
                message="the replica running the job stopped without a result"), self._registry.clock())

    def _keep(self, job: jobs.Job, item: dict) -> tuple[protocol.Event, dict[str, Path]]:
        """The worker's event with the request's id, and {role: file} of a result's files, saved
        into the job's folder as ``{role}.{format}`` and named so in the event. Runs in a thread
        (it writes files), so it changes nothing of the job."""
        try:
            event = protocol.decode_event(item["line"])
        except protocol.ProtocolError as exc:
            return _internal(job, f"the replica sent an event the server cannot read: {exc.message}"), {}
        event.id = job.request_id
        saved: dict[str, Path] = {}
        if not isinstance(event, protocol.ResultEvent):
            return event, saved
        data = {(file["role"], file["format"]): file["data"] for file in item.get("files", [])}
        try:
            for file in event.files:
                if file.role not in protocol.FILE_ROLES or not _FILE_FORMAT.match(file.format):
                    raise ValueError(f"a result file has the role {file.role[:40]!r} and format "
                                     f"{file.format[:40]!r}")
                path = job.folder / f"{file.role}.{file.format}"
                saved[file.role] = path
                path.write_bytes(data[file.role, file.format])
                file.path = path.name
        except OSError as exc:
            for path in saved.values():
                path.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                return _internal(job, "the server ran out of disk space saving the job's results",
                                 "free disk space on the server, then run the job again"), {}
            return _internal(job, f"the server could not save the job's results: {first_line(exc)}"), {}
        except (KeyError, ValueError) as exc:
            return _internal(job, f"the replica sent a result the server cannot keep: {exc}"), {}
        return event, saved

    def _failure(self, job: jobs.Job, exc: Exception) -> protocol.ErrorEvent:
        """The final event of a job whose call raised: cancelled, its replica gone, or a failure."""
        if job.cancelled:
            return protocol.ErrorEvent(id=job.request_id, code="cancelled", message="the job was cancelled")
        cause = exc.cause if isinstance(exc, RayTaskError) and exc.cause is not None else exc
        if isinstance(cause, _REPLICA_GONE):
            log.warning("job %s: its replica stopped: %s", job.request_id, plain(str(cause)))
            return protocol.ErrorEvent(
                id=job.request_id, code="backend_exited",
                message="the replica running the job stopped before the job ended",
                hint="the server starts a new replica; run the job again")
        log.warning("job %s failed: %s: %s", job.request_id, type(cause).__name__, plain(str(cause)))
        return protocol.ErrorEvent(
            id=job.request_id, code="internal",
            message=f"the job failed on the server: {type(cause).__name__}: {plain(str(cause))}",
            hint="the server's log has the details")

    @app.get("/v1/jobs/{key}/events")
    async def events(self, key: str, request: Request):
        job = self._registry.get(key, self._owner(request))
        if job is None:
            return not_found()
        return StreamingResponse(job.lines(), media_type=NDJSON)

    @app.get("/v1/jobs/{key}/files/{role}")
    async def file(self, key: str, role: str, request: Request):
        job = self._registry.get(key, self._owner(request))
        if job is None or role not in job.files:
            return not_found()
        return FileResponse(job.files[role], media_type="application/octet-stream")

    @app.post("/v1/jobs/{key}/cancel", status_code=202)
    async def cancel(self, key: str, request: Request):
        job = self._registry.get(key, self._owner(request))
        if job is None:
            return not_found()
        if not job.finished:
            job.cancelled = True
            if job.response is not None:
                job.response.cancel()
        return {"job": job.key, "id": job.request_id}

    @app.delete("/v1/jobs/{key}", status_code=204)
    async def delete(self, key: str, request: Request):
        job = self._registry.get(key, self._owner(request))
        if job is None:
            return not_found()
        if not job.finished and job.response is not None:
            job.cancelled = True
            job.response.cancel()
        self._registry.forget(job)
        return Response(status_code=204)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    async def unknown(self, path: str, request: Request):
        """Any other path: 401 without the token, like every path; else 404."""
        self._owner(request)
        return error_response(404, "bad_request", f"no such path /{path[:200]}",
                              "the paths are /v1/hello and /v1/jobs... (PROTOCOL.md, Over HTTP)")
