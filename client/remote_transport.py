"""Atelier's protocol lines to a remote backend over HTTP (``python -m backend ray-serve``).

``RemoteConfig(url, token).make_transport()`` gives a ``Transport`` (``transport.py``) that
speaks PROTOCOL.md's "Over HTTP" for ``BackendClient``: ``send(line)`` takes a request line, and
a worker thread per job (``job_transport.JobTransport``) does the network part, so Blender's main
thread never waits on the network. The worker checks the server once (``GET /v1/hello``: an
Atelier backend, this protocol version, the token accepted) and queues its ``hello`` line; jobs
that waited on a check that failed share its error. Then it uploads the request with every input
file it names (``POST /v1/jobs``, multipart; the request names them by their parts, with no output
folder, so no local path leaves this machine), reads the job's events as they stream
(``GET /v1/jobs/{job}/events``) and queues them as lines (a job's newest progress only, while
Blender has not read the one before). On the result it downloads each file by role
(``GET /v1/jobs/{job}/files/{role}``, whole: the size it announces) into the request's own
``output_dir`` (the job folder the client made; never a path the server names) and queues the
result with the local paths, or the error, as the job's last line; then the server is told to
forget the job (``DELETE /v1/jobs/{job}``; one that may still run there is cancelled first), each
such call bounded by the connect timeout. A connection lost on the way (reset, cut short, the
server out of reach for a moment) loses nothing: the events are asked for again and the server
replays them from the first, so those already queued are skipped (``accepted`` stays one line); a
result file is fetched again from its start. The tries are few and short (``RECONNECT_DELAYS``);
past them the job ends with an error saying the connection was lost and the job may still run there.
A cancel posts ``/v1/jobs/{job}/cancel`` (once; during the upload, once the server's job id is
known); the server's ``cancelled`` error ends the job, and when the server cannot be told or does
not end the stream in time, the job ends here. ``stop`` ends every call at once and lets no new one
start.

Every failure ends its job with one ``error`` line whose message names the server and whose hint
says what to change (``remote_http``). An answer that is not the protocol (a web page, another
protocol version, a body that never ends, a line that cannot be read, an event naming another
job) ends that job only. Bounds: each input file ``MAX_FILE_BYTES``, all of one request
``MAX_UPLOAD_BYTES`` (the server's own limits), each event line ``protocol.MAX_LINE_BYTES`` (one
that is not the last ``MAX_PROGRESS_BYTES``), each result file ``MAX_FILE_BYTES``; times are the
config's (``remote_config.RemoteConfig``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core import limits, protocol
from ..core.errors import TaskError
from .job_transport import Job, JobTransport, LatestLines
from .remote_http import (
    CANCELLED_HERE,
    Call,
    ConnectionLost,
    check,
    content_type,
    file_length,
    json_body,
    read_bounded,
)
from .transport import TransportClosed

MAX_FILE_BYTES = limits.HTTP_MAX_FILE_BYTES  # one uploaded or downloaded file
MAX_UPLOAD_BYTES = limits.HTTP_MAX_UPLOAD_BYTES  # one request with all its files
MAX_SMALL_BYTES = 64 * 1024  # hello, the job's id: small JSON objects
# An event line other than the last (accepted, progress): a stage name and some numbers. A
# result may be as long as any protocol line.
MAX_PROGRESS_BYTES = 64 * 1024
# An upload may take the answer's bound plus one second for this many bytes: a slow line is
# fine, a server that stops reading is given up.
UPLOAD_BYTES_PER_SECOND = 128 * 1024
# A server that took a cancel ends the job's stream within this (a diffusion step, a model
# load's end); after it the job ends here anyway, and the server is told to forget it.
CANCEL_SECONDS = 15.0
# A job's events or a result file whose connection was lost (reset, cut short, the server out of
# reach) are asked for again after each of these pauses; a try that brings news of the job starts
# the window anew. After the last one the job ends with an error that says so.
RECONNECT_DELAYS = (0.25, 0.5, 1.0, 2.0)
# The server's job ids: secrets.token_urlsafe(32). They go into URL paths, so nothing else is taken.
_SERVER_JOB = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_FORMAT = re.compile(r"^[a-z0-9]{1,8}$")  # a result file's format names its extension
_CONTROL = (protocol.UnloadRequest, protocol.ShutdownRequest)


@dataclass
class _Job(Job):
    server_job: str | None = None  # the id the server gave it, once uploaded
    calls: set = field(default_factory=set)  # its HTTP calls in progress (a cancel, stop end them)
    uploading: bool = False  # the upload began: a cancel now waits for the server's job id
    shut: bool = False  # its calls are ended: no new one starts (but the clean-up's)
    cancel_sent: bool = False  # the server was asked to cancel it (once)
    finished: bool = False  # its last event (result or error) came from the server
    ended: bool = False  # its last line is queued
    accepted: bool = False  # its ``accepted`` line is queued
    events_read: int = 0  # event lines read from its stream (a stream made again replays them)


class RemoteTransport(JobTransport):
    """Protocol lines in, protocol lines out; one worker thread per job, none for the rest."""

    THREAD_NAME = "atelier-remote"

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        self._hello_lock = threading.Lock()
        self._hello_done = False
        self._hello_error: TaskError | None = None  # the last check's failure, and when
        self._hello_failed_at = 0.0

    def start(self) -> None:
        problem = self.config.problem()
        if problem:
            raise TransportClosed(problem)
        super().start()
        self._hello_done, self._hello_error = False, None

    def closed_message(self) -> str:
        return f"the connection to the remote backend at {self.config.shown_url} is closed"

    def take(self, request: protocol.Request) -> None:
        if not isinstance(request, _CONTROL):  # the server's replicas keep and free their own models
            self.begin(_Job(request))

    # ------------------------------------------------------------------ ending jobs

    def cancel_job(self, job: _Job) -> None:
        """Esc: a job not on the server yet is ended here; one being uploaded is cancelled by
        its id once the upload is done (else it would run there unseen); one on the server is
        cancelled there, and its stream then ends with ``cancelled``."""
        job.cancelled.set()
        with self._lock:
            if job.ended:
                return  # its last line is queued already
            uploading, on_server = job.uploading, job.server_job is not None
        if on_server:
            threading.Thread(target=self._tell_cancel, args=(job,), daemon=True,
                             name=f"atelier-cancel-{job.request.id}").start()
        elif not uploading:
            self.end_job(job)

    def end_job(self, job: _Job) -> None:
        """End every call of ``job`` now; no new one starts but the clean-up's."""
        job.cancelled.set()
        with self._lock:
            job.shut = True
            calls = list(job.calls)
        for call in calls:
            call.abort()

    def _tell_cancel(self, job: _Job) -> None:
        """Ask the server to cancel ``job`` (once); a server that took it must end the job's
        stream within ``CANCEL_SECONDS``, and one that cannot be told gets the stream shut:
        either way the job ends here soon."""
        with self._lock:
            if job.cancel_sent:
                return
            job.cancel_sent = True
        try:
            self._quick(job, "POST", f"/jobs/{job.server_job}/cancel")
        except TaskError as exc:
            self._log.append(f"cancel {job.request.id}: {exc.message}")
            self.end_job(job)
            return
        with self._lock:
            calls = list(job.calls)
        for call in calls:
            call.link.arm(CANCEL_SECONDS)

    # ------------------------------------------------------------------ the worker

    def run_job(self, job: _Job, lines: LatestLines) -> None:
        """Hello, upload, events, files; every way out queues the job's one last line first,
        then the server is told to forget the job (bounded by the short connect timeout, and
        ended by ``stop``)."""
        request = job.request
        try:
            last = self._work(job, lines)
        except TaskError as exc:
            if job.cancelled.is_set() and exc.code != "cancelled":
                self._log.append(f"{request.type} {request.id} (cancelled): {exc.code}: {exc.message}")
                exc = TaskError("cancelled", CANCELLED_HERE)
            else:
                self._log.append(f"{request.type} {request.id}: {exc.code}: {exc.message}")
            last = protocol.ErrorEvent(id=request.id, code=exc.code, message=exc.message, hint=exc.hint)
        except Exception as exc:  # a bug here must still end the job, not leave it waiting
            self._log.append(f"{request.type} {request.id}: {type(exc).__name__}: {exc}")
            last = protocol.ErrorEvent(id=request.id, code="internal",
                                       message=f"the remote backend client failed: {type(exc).__name__}: "
                                               f"{exc}", hint="please report this")
        with self._lock:
            job.ended = True
        if self._running:
            lines.put(protocol.encode(last))
        try:
            self._forget(job)
        finally:
            self.finished(job)

    def _work(self, job: _Job, lines: LatestLines) -> protocol.Event:
        self._hello(job, lines)
        if isinstance(job.request, protocol.PingRequest):
            return protocol.PongEvent(id=job.request.id)
        self._upload(job)
        if job.cancelled.is_set():  # Esc came during the upload
            self._tell_cancel(job)
        return self._follow(job, lines)

    @contextlib.contextmanager
    def _calling(self, job: _Job, seconds: float, clean_up: bool = False):
        """A new call of ``job`` bounded by ``seconds``, ended by a cancel or ``stop``; refused
        once the transport is stopped, or (but for the clean-up) once the job's calls are shut."""
        call = Call(self.config, seconds)
        with self._lock:
            if not self._running:
                raise TaskError("cancelled", f"the connection to the remote backend at {call.url} was "
                                             "closed")
            if job.shut and not clean_up:
                raise TaskError("cancelled", CANCELLED_HERE)
            job.calls.add(call)
        try:
            yield call
        finally:
            with self._lock:
                job.calls.discard(call)
            call.close()

    # ------------------------------------------------------------------ the steps

    def _hello(self, job: _Job, lines: LatestLines) -> None:
        """Check the server once per connection: an Atelier backend speaking this protocol that
        accepts the token; its ``hello`` becomes the connection's first line. Jobs that waited
        on a check that failed share its error (a batch against a stuck server fails at once,
        not one hello bound per job); the next job after that asks again."""
        arrived = time.monotonic()
        with self._hello_lock:
            if self._hello_done:
                return
            failed, failed_at = self._hello_error, self._hello_failed_at
            if failed is not None and arrived <= failed_at:
                raise TaskError(failed.code, failed.message, hint=failed.hint)
            seconds = self.config.hello_seconds
            try:
                with self._calling(job, seconds) as call:
                    response = call.send("GET", "/hello", headers={"Accept": "application/json"},
                                         wait=seconds)
                    document = json_body(call, response, "the hello answer", limit=MAX_SMALL_BYTES,
                                         wait=seconds)
                hello = self._checked_hello(document)
            except TaskError as exc:
                self._hello_error = exc if exc.code != "cancelled" else None
                self._hello_failed_at = time.monotonic()
                raise
            if self._running:
                lines.put(protocol.encode(hello))
            self._hello_done, self._hello_error = True, None

    def _checked_hello(self, document: dict) -> protocol.HelloEvent:
        url = self.config.shown_url
        not_atelier = TaskError("backend_exited", f"the hello answer from {url} is not an Atelier "
                                                  "backend's",
                                hint="set Remote URL (or ATELIER_BACKEND_URL) to the address "
                                     "`python -m backend ray-serve` prints when it is ready")
        if document.get("type") != "hello":
            raise not_atelier
        spoken = document.get("protocol")
        if spoken != protocol.PROTOCOL_VERSION:
            raise TaskError("backend_exited", f"the remote backend at {url} speaks protocol {spoken!r}, "
                                              f"this Atelier protocol {protocol.PROTOCOL_VERSION}",
                            hint="install the same Atelier version on the server as in Blender")
        document.pop("transport", None)  # says how it was reached; not a field of the event
        try:
            return protocol.decode_event(json.dumps(document))
        except protocol.ProtocolError:
            raise not_atelier from None

    def _upload(self, job: _Job) -> None:
        """``POST /v1/jobs``: the request (its local paths replaced by neutral names) and each
        input file it names; notes the server's job id."""
        files = _input_files(job.request)
        body, boundary, size = _multipart(protocol.encode(_neutral(job.request, files)), files)
        with self._lock:
            if job.shut:
                raise TaskError("cancelled", CANCELLED_HERE)
            job.uploading = True
        wait = self.config.answer_seconds
        with self._calling(job, wait + size / UPLOAD_BYTES_PER_SECOND) as call:
            response = call.send("POST", "/jobs", body=body, wait=wait, headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(size), "Accept": "application/json"})
            answer = json_body(call, response, "the job", limit=MAX_SMALL_BYTES, wait=wait)
        server_job = answer.get("job")
        usable = isinstance(server_job, str) and _SERVER_JOB.match(server_job)
        if not usable or answer.get("id") != job.request.id:
            raise TaskError("invalid_output", f"the remote backend at {self.config.shown_url} answered the "
                                              "job with no usable job id",
                            hint="check that the URL is an Atelier backend of this version")
        with self._lock:
            job.server_job, job.uploading = server_job, False

    def _follow(self, job: _Job, lines: LatestLines) -> protocol.Event:
        """Read the job's events as they come and queue them (its latest progress only, while
        Blender has not read the one before); returns its result (files fetched) or error, for
        the caller to queue last. A connection lost before the last event is made again: the
        server replays the job's events from the first, and those already read are skipped."""
        tries = 0
        while True:
            read_before = job.events_read
            try:
                return self._stream_events(job, lines)
            except ConnectionLost as lost:
                if job.events_read > read_before:
                    tries = 0  # the connection came back and the job went on: a new window
                if tries == len(RECONNECT_DELAYS):
                    left = "the job may still run on the server, which forgets it after its time-to-live"
                    raise self._lost_mid_job(lost, "mid-job", left) from None
                self._pause_before_retry(job, lost, tries, "its events")
                tries += 1

    def _stream_events(self, job: _Job, lines: LatestLines) -> protocol.Event:
        """One connection to the job's events, from the first; raises ``ConnectionLost`` when it
        ends before the job's last event."""
        wait = self.config.silence_seconds
        with self._calling(job, self.config.answer_seconds) as call:
            response = call.send("GET", f"/jobs/{job.server_job}/events",
                                 headers={"Accept": "application/x-ndjson"}, wait=wait)
            check(call, response, "the job")
            if content_type(response) == "text/html":
                raise TaskError("backend_exited", f"the events from {call.url} are a web page: this is not "
                                                  "an Atelier backend", hint="check Remote URL")
            call.settle()  # the stream lasts as long as the job; a cancelled one's is bounded
            if job.cancel_sent:
                call.link.arm(CANCEL_SECONDS)
            read = 0  # event lines of this connection; the first ``job.events_read`` were queued before
            while True:
                raw = call.read(lambda: response.readline(protocol.MAX_LINE_BYTES + 1), wait)
                if len(raw) > protocol.MAX_LINE_BYTES:
                    raise TaskError("invalid_output", f"the remote backend at {call.url} sent an event "
                                                      f"longer than {protocol.MAX_LINE_BYTES:,} bytes",
                                    hint="nothing was applied; run it again")
                if not raw and (response.chunked or response.length == 0):  # the server's own end
                    raise TaskError("backend_exited", f"the remote backend at {call.url} ended the job's "
                                                      "events before its result",
                                    hint="look at the server's log; the next job may work")
                if not raw.endswith(b"\n"):  # the connection closed early, maybe within a line
                    raise ConnectionLost("backend_exited", f"the connection to the remote backend at "
                                                           f"{call.url} closed before the job's result",
                                         reason="the connection closed before the job's result")
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not text.strip():
                    continue
                read += 1
                if read <= job.events_read:
                    continue  # replayed: this event was queued before the connection was lost
                job.events_read = read
                final = self._forward(job, text, lines)
                if final is not None:
                    return final

    def _pause_before_retry(self, job: _Job, lost: ConnectionLost, tries: int, what: str) -> None:
        """Log the lost connection and wait the retry's delay (a cancel cuts it short: the next
        try then ends the job, or reads the server's ``cancelled``)."""
        delay = RECONNECT_DELAYS[tries]
        self._log.append(f"{job.request.type} {job.request.id}: {lost.reason}; asking for {what} again "
                         f"in {delay:g} s")
        job.cancelled.wait(delay)

    def _lost_mid_job(self, lost: ConnectionLost, when: str, left: str) -> TaskError:
        """The error that ends a job whose connection did not come back within the retry window."""
        return TaskError("backend_exited", f"the connection to the remote backend at {self.config.shown_url} "
                                           f"was lost {when} and {len(RECONNECT_DELAYS)} tries to make it "
                                           f"again failed over {sum(RECONNECT_DELAYS):g} s (last: "
                                           f"{lost.reason}); {left}",
                         hint="check that the server still runs and that this computer reaches it (network, "
                              "VPN, SSH tunnel); press Doctor in Atelier's preferences, then run the job "
                              "again")

    def _forward(self, job: _Job, text: str, lines: LatestLines) -> protocol.Event | None:
        """Queue one event line of ``job``; its result (files fetched into the job folder) or
        error is returned instead, as the job's last event."""
        request = job.request
        try:
            event = protocol.decode_event(text)
        except protocol.ProtocolError as exc:
            raise TaskError("invalid_output", f"the remote backend's answer cannot be read: {exc.message}",
                            hint="nothing was applied; run it again") from None
        if getattr(event, "id", None) != request.id:
            raise TaskError("invalid_output", f"the remote backend sent a {event.type!r} event that does "
                                              f"not name job {request.id!r} on that job's stream",
                            hint="nothing was applied; check that the URL is an Atelier backend")
        if isinstance(event, (protocol.ResultEvent, protocol.ErrorEvent)):
            job.finished = True  # the server is done with it, whatever happens here now
            if isinstance(event, protocol.ResultEvent):
                event.files = self._fetch(job, event.files)
            return event
        if len(text) > MAX_PROGRESS_BYTES:
            raise TaskError("invalid_output", f"the remote backend at {self.config.shown_url} sent a "
                                              f"{event.type!r} event of {len(text):,} bytes; Atelier "
                                              f"reads at most {MAX_PROGRESS_BYTES:,} for one",
                            hint="nothing was applied; check that the server runs this Atelier version")
        if not self._running:
            return None
        if isinstance(event, protocol.ProgressEvent):
            lines.put_latest(request.id, text)  # replaces the one Blender has not read yet
        elif isinstance(event, protocol.AcceptedEvent) and not job.accepted:  # once; repeats unheard
            job.accepted = True
            lines.put(text)
        return None

    def _fetch(self, job: _Job, files: list) -> list[protocol.ResultFile]:
        """Download each result file into the request's job folder; the files with local paths."""
        folder = getattr(job.request, "output_dir", "")
        fetched, roles = [], set()
        for file in files:
            if file.role not in protocol.FILE_ROLES or file.role in roles or not _FORMAT.match(file.format):
                raise TaskError("invalid_output", f"the remote backend's result names a file with role "
                                                  f"{file.role!r} and format {file.format!r}",
                                hint="nothing was applied; check that the server runs this Atelier version")
            if not folder:
                raise TaskError("invalid_output", "the remote backend's result names files, but this job "
                                                  "has no folder to receive them",
                                hint="nothing was applied; please report this")
            roles.add(file.role)
            path = Path(folder) / f"{file.role}.{file.format}"
            self._download(job, file.role, path)
            fetched.append(protocol.ResultFile(role=file.role, path=str(path), format=file.format))
        return fetched

    def _download(self, job: _Job, role: str, path: Path) -> None:
        """One result file, whole; a connection lost on the way (or a file cut short) is asked
        for again, from its start, within the retry window."""
        for tries in range(len(RECONNECT_DELAYS) + 1):
            try:
                return self._download_once(job, role, path)
            except ConnectionLost as lost:
                if tries == len(RECONNECT_DELAYS):
                    raise self._lost_mid_job(lost, f"while fetching the job's {role} file",
                                             "nothing was applied") from None
                self._pause_before_retry(job, lost, tries, f"the {role} file")

    def _download_once(self, job: _Job, role: str, path: Path) -> None:
        """One result file, whole: the size it announces, no more and no less."""
        wait = self.config.answer_seconds
        what = f"the job's {role} file"
        with self._calling(job, wait) as call:
            response = call.send("GET", f"/jobs/{job.server_job}/files/{role}", wait=wait)
            check(call, response, what)
            size = file_length(call, response, what, MAX_FILE_BYTES)
            call.settle()  # a large file on a slow line: each read within the silence bound
            try:
                sink = open(path, "xb")  # a new file in the client's own folder, never an old one
            except OSError as exc:
                raise TaskError("invalid_output", f"cannot write the {role} file into the job folder: "
                                                  f"{exc.strerror}",
                                hint="check that Atelier's user folder can be written") from None
            try:
                with sink:
                    read_bounded(call, response, size, what, wait=wait, sink=sink)
                    received = sink.tell()
                if received != size:
                    cut = f"{what} ended after {received:,} of {size:,} bytes"
                    raise ConnectionLost("invalid_output", f"{cut} from the remote backend at {call.url}",
                                         hint="nothing was applied; the connection broke off; run it again",
                                         reason=cut)
            except BaseException:
                path.unlink(missing_ok=True)  # the part of it that came is no file to apply
                raise

    def _forget(self, job: _Job) -> None:
        """The job is over here: one that may still run on the server is cancelled there first
        (unless it was already); then the server deletes its files (a failure only costs the
        server's disk until its time-to-live ends)."""
        if job.server_job is None:
            return
        try:
            with self._lock:
                cancel = not job.finished and not job.cancel_sent
                job.cancel_sent = True
            if cancel:
                self._quick(job, "POST", f"/jobs/{job.server_job}/cancel")
            self._quick(job, "DELETE", f"/jobs/{job.server_job}")
        except TaskError as exc:
            self._log.append(f"cleaning up {job.request.id}: {exc.message}")

    def _quick(self, job: _Job, method: str, tail: str) -> None:
        """A short call with no answer to read (cancel, delete), bounded by the connect timeout
        as a whole: a stuck server must not hold a cancel; raises ``TaskError``."""
        seconds = self.config.connect_timeout
        with self._calling(job, seconds, clean_up=True) as call:
            response = call.send(method, tail, wait=seconds)
            check(call, response, "the job")
            read_bounded(call, response, MAX_SMALL_BYTES, "the answer", wait=seconds)


def _neutral(request: protocol.Request, files: list[tuple[str, str, bytes]]) -> protocol.Request:
    """``request`` as the server sees it: each input file named by the part that carries it, no
    output folder (the server uses its own), so no local path or user name leaves this machine."""
    names = {field_name: file_name for field_name, file_name, _ in files}
    if hasattr(request, "output_dir"):
        names["output_dir"] = ""
    return dataclasses.replace(request, **names)


def _input_files(request: protocol.Request) -> list[tuple[str, str, bytes]]:
    """(field, file name, bytes) of every input file ``request`` names, within the bounds."""
    files, total = [], 0
    for name, path in protocol.input_files(request).items():
        try:
            size = os.stat(path).st_size
            if size > MAX_FILE_BYTES:
                raise TaskError("bad_request", f"the {name} file is {size / 2**20:.1f} MiB; the remote "
                                               f"backend takes at most {MAX_FILE_BYTES // 2**20} MiB a file",
                                hint="use a smaller image")
            total += size
            if total > MAX_UPLOAD_BYTES:
                raise TaskError("bad_request", f"the input files come to more than "
                                               f"{MAX_UPLOAD_BYTES // 2**20} MiB, the remote backend's "
                                               "limit for one job", hint="use smaller images")
            with open(path, "rb") as source:
                data = source.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise TaskError("bad_request", f"the {name} file {path!r} cannot be read: {exc.strerror}",
                            hint="check the file and run it again") from None
        suffix = "".join(c for c in Path(path).suffix.lower() if c.isalnum() or c == ".")[:9]
        files.append((name, f"{name}{suffix}", data))  # the local name and folders stay here
    return files


def _multipart(request_line: str, files: list[tuple[str, str, bytes]]) -> tuple[list[bytes], str, int]:
    """The ``multipart/form-data`` body: parts, boundary and size in bytes."""
    boundary = f"atelier-{secrets.token_hex(16)}"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="request"\r\n'
             f"Content-Type: application/json\r\n\r\n".encode(), request_line.encode("utf-8"), b"\r\n"]
    for name, file_name, data in files:
        parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                  f'filename="{file_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode(),
                  data, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return parts, boundary, sum(len(part) for part in parts)
