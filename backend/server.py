"""``serve``: the model host behind Blender, speaking JSON lines on stdin/stdout.

The main thread reads requests; one worker thread runs jobs one at a time, in order, so only
one job uses the device. Live previews are the exception to the order: the newest replaces
every older one, and they step aside for any other job (``_enqueue``). stdout carries
protocol lines only: the process's file descriptor 1 is pointed at stderr at start, so a
library that prints cannot corrupt the protocol. When stdin closes (Blender quit or crashed)
the server exits and gives its GPU memory back.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import BinaryIO, TextIO

from core import __version__, limits, protocol
from core.errors import Cancelled, TaskError, first_line

from .model_cache import ModelCache

log = logging.getLogger("atelier.backend")

# How long shutdown waits for a running job to reach its next cancel check.
SHUTDOWN_GRACE_S = 10.0


class Server:
    """Request handling, the job queue and the worker; I/O streams are passed in."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._queue: collections.deque = collections.deque()  # (request, cancel event)
        self._running = None  # (request, cancel event) of the job on the device
        self._stopping = False
        self._cache = ModelCache()
        self._worker = threading.Thread(target=self._work, name="atelier-worker", daemon=True)

    # ----------------------------------------------------------------- output

    def emit(self, event: protocol.Event) -> None:
        """Write one event line; safe from any thread."""
        line = event_line(event)
        with self._write_lock:
            try:
                self._out.write(line + "\n")
                self._out.flush()
            except (BrokenPipeError, ValueError):
                pass  # the client is gone; stdin EOF ends the server

    def _error(self, request_id, code: str, message: str, hint: str = "") -> None:
        self.emit(protocol.ErrorEvent(id=request_id, code=code, message=message, hint=hint))

    # ----------------------------------------------------------------- input

    def serve(self, lines: BinaryIO) -> None:
        """Say hello, handle lines until EOF or ``shutdown``, then stop."""
        self._worker.start()
        self.emit(protocol.HelloEvent(backend_version=__version__, capabilities=capabilities(),
                                      pid=os.getpid(), limits=limits.as_dict()))
        for raw in bounded_lines(lines, protocol.MAX_LINE_BYTES):
            if raw is None:
                self._error(None, "bad_request",
                            f"a line is longer than {protocol.MAX_LINE_BYTES} bytes; it was skipped",
                            "send image data as files, never inside a request")
            elif not self.handle_line(raw):
                break
        self.stop()

    def handle_line(self, raw: bytes) -> bool:
        """Handle one request line; returns False when the server should stop."""
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            self._error(None, "bad_request", "the line is not UTF-8", "send UTF-8 JSON lines")
            return True
        if not text:
            return True
        try:
            request = protocol.decode_request(text)
        except protocol.ProtocolError as exc:
            self._error(exc.request_id, exc.code, exc.message, exc.hint)
            return True
        except Exception as exc:  # a bug in decoding must not end the server
            self._error(None, *classify_unexpected(exc))
            return True
        if isinstance(request, protocol.PingRequest):
            self.emit(protocol.PongEvent(id=request.id))
        elif isinstance(request, protocol.CancelRequest):
            self._cancel(request)
        elif isinstance(request, protocol.ShutdownRequest):
            return False
        else:
            self._enqueue(request)
        return True

    def _enqueue(self, request: protocol.Request) -> None:
        with self._cond:
            if self._stopping:
                return
            busy = [r.id for r, _ in self._queue] + ([self._running[0].id] if self._running else [])
            if request.id in busy:
                self._error(request.id, "bad_request", f"a job with id {request.id!r} is already queued",
                            "use a new id for every request")
                return
            if self._running and is_preview(self._running[0]):
                self._running[1].set()  # any newer job stops a running preview at its next step
            if is_preview(request):
                for item in [item for item in self._queue if is_preview(item[0])]:
                    self._queue.remove(item)
                    self._error(item[0].id, "cancelled", "superseded by a newer preview")
                place = len(self._queue)  # behind every queued job, none of them a preview now
            else:  # ahead of a queued preview (at most one), behind every other job
                place = next((i for i, (queued, _) in enumerate(self._queue) if is_preview(queued)),
                             len(self._queue))
            self._queue.insert(place, (request, threading.Event()))
            # Accepted goes out before the worker can start the job, so it precedes progress.
            self.emit(protocol.AcceptedEvent(id=request.id, position=place + (1 if self._running else 0)))
            self._cond.notify()

    def _cancel(self, request: protocol.CancelRequest) -> None:
        with self._cond:
            for item in list(self._queue):
                if item[0].id == request.job:
                    self._queue.remove(item)
                    self._error(request.job, "cancelled", "the job was cancelled before it started")
                    return
            if self._running and self._running[0].id == request.job:
                self._running[1].set()  # the job stops at its next step
                return
        self._error(request.id, "bad_request", f"no queued or running job has id {request.job!r}",
                    "it may have finished already")

    def stop(self) -> None:
        """Drop queued jobs, cancel the running one and wait briefly for it to end."""
        with self._cond:
            self._stopping = True
            dropped = list(self._queue)
            self._queue.clear()
            if self._running:
                self._running[1].set()
            self._cond.notify_all()
        for request, _ in dropped:
            self._error(request.id, "cancelled", "the backend is shutting down")
        self._worker.join(SHUTDOWN_GRACE_S)

    # ----------------------------------------------------------------- worker

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                self._running = self._queue.popleft()
                request, cancel = self._running
            try:
                self._run(request, cancel)
            except Exception as exc:  # the worker must outlive any failure, or jobs queue forever
                code, message, hint = classify_unexpected(exc)
                self._end(protocol.ErrorEvent(id=request.id, code=code, message=message, hint=hint))
            finally:
                with self._cond:
                    self._running = None

    def _run(self, request: protocol.Request, cancel: threading.Event) -> None:
        started = time.monotonic()
        log.info("job %s (%s) started", request.id, request.type)
        if request.type == "unload":
            count = self._cache.drop()
            self._end(protocol.ResultEvent(id=request.id, data={"unloaded": count}))
            return
        code, message, hint = run_job(request, self._cache, self._emit_for_job, cancel)
        if code is None:
            log.info("job %s done in %.2f s", request.id, time.monotonic() - started)
        else:
            log.info("job %s ended with %s: %s", request.id, code, message)
            self._end(protocol.ErrorEvent(id=request.id, code=code, message=message, hint=hint))

    def _emit_for_job(self, event: protocol.Event) -> None:
        if isinstance(event, protocol.ResultEvent):
            self._end(event)
        else:
            self.emit(event)

    def _end(self, event: protocol.Event) -> None:
        """A job's final event. Its id is free again before the client can read the event, so a
        client may reuse it at once ("unique among queued and running jobs").

        A preview cancelled after its last check (a newer job arrived while it decoded or wrote)
        ends ``cancelled`` all the same, and its file is removed: the cancel and this decision
        both hold the lock, so a superseded preview never ends with a result."""
        with self._cond:
            if self._running is not None and self._running[0].id == event.id:
                request, cancel = self._running
                self._running = None
                if isinstance(event, protocol.ResultEvent) and is_preview(request) and cancel.is_set():
                    discard_files(event.files)
                    cancelled = Cancelled()
                    event = protocol.ErrorEvent(id=event.id, code=cancelled.code, message=cancelled.message)
        self.emit(event)


def is_preview(request: protocol.Request) -> bool:
    """A live preview job: latest wins, and it never holds up other jobs (see PROTOCOL.md)."""
    return bool(getattr(request, "preview", False))


def discard_files(files: list) -> None:
    """Delete the files a result of this backend names (``protocol.ResultFile``: its own job's
    output), and their job folder once it is empty, as a job cancelled earlier leaves none."""
    for file in files:
        path = Path(file.path)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the folder still holds other files
            path.parent.rmdir()


_SKIP_PIECE = 2**16  # bytes read at a time while skipping the rest of an over-long line


def bounded_lines(stream: BinaryIO, limit: int):
    """The lines of ``stream``, each read with at most ``limit`` bytes held; a longer line is
    read past in pieces and yields None, so a huge line costs no more memory than ``limit``."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if line.endswith(b"\n") or len(line) <= limit:  # at most ``limit`` bytes before the newline
            yield line
            continue
        del line  # drop the over-long start before reading past the rest, in small pieces
        piece = stream.readline(_SKIP_PIECE)
        while piece and not piece.endswith(b"\n"):
            piece = stream.readline(_SKIP_PIECE)
        yield None


def event_line(event: protocol.Event) -> str:
    """One event's protocol line, or an ``internal`` error line in its place when the event cannot
    be encoded (a NaN in metadata, a lone surrogate that would fail the UTF-8 write)."""
    try:
        line = protocol.encode(event)
        line.encode("utf-8")
    except ValueError as exc:  # UnicodeEncodeError is one
        line = protocol.encode(protocol.ErrorEvent(
            id=getattr(event, "id", None), code="internal",
            message=f"the backend produced an event it cannot encode: {first_line(exc)}"))
    return line


def run_job(request: protocol.Request, cache: ModelCache, emit, cancel: threading.Event):
    """Run one task job; emits its result, returns (code, message, hint) of a failure or Nones."""
    from .task_context import JobContext
    from .tasks import get_runner

    failure = None
    try:
        job = JobContext(request, cache, emit, cancel)
        job.check_cancelled()
        output = get_runner(request.type)(request, job)
        emit(protocol.ResultEvent(id=request.id, files=output.files, metadata=output.metadata,
                                  data=output.data))
        return None, None, None
    except TaskError as exc:
        failure = (exc.code, exc.message, exc.hint)
    except Exception as exc:  # any bug must become an error event, never a crash
        failure = classify_unexpected(exc)
    if failure[0] == "out_of_memory":
        # The exception (and the frames holding device tensors) is gone by now.
        from .device import free_device_memory

        try:
            free_device_memory()
        except Exception as exc:  # a failure to free must not hide the out-of-memory report
            log.warning("freeing device memory failed: %s", first_line(exc))
    return failure


def run_request(request: protocol.Request, cancel: threading.Event | None = None,
                ) -> protocol.ResultEvent | protocol.ErrorEvent:
    """Run one job in this process, outside any server (one-shot commands, ``doctor``): its
    result, or an error event. Progress lines go to stderr, never stdout (in ``serve`` stdout
    is the protocol); ``cancel``, when set, stops the job at its next step."""
    events: list = []

    def emit(event: protocol.Event) -> None:
        if isinstance(event, protocol.ProgressEvent):
            print(f"step {event.step}/{event.total} {event.stage}".rstrip(), file=sys.stderr)
        else:
            events.append(event)

    code, message, hint = run_job(request, ModelCache(), emit, cancel or threading.Event())
    if code is not None:
        return protocol.ErrorEvent(id=request.id, code=code, message=message, hint=hint)
    return events[-1]


def classify_unexpected(exc: Exception) -> tuple[str, str, str]:
    """An exception no task expected: out of memory, or a bug reported as ``internal``."""
    text = first_line(exc)
    if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text.lower():
        return ("out_of_memory", f"the device ran out of memory: {text}",
                "use a smaller size or model, unload other models, or use device 'cpu'")
    traceback.print_exception(exc, file=sys.stderr)
    return ("internal", f"{type(exc).__name__}: {text}",
            "this is a bug in Atelier's backend; the log on stderr has the details")


def capabilities() -> list[str]:
    """Request types this installation can serve, plus the control requests."""
    from .tasks import available

    return available() + ["cancel", "unload"]


def main() -> int:
    """Entry point of ``python -m backend serve``."""
    protocol_fd = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints now land on stderr
    sys.stdout = sys.stderr
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s atelier-backend %(levelname)s %(message)s")
    out = os.fdopen(protocol_fd, "w", encoding="utf-8", buffering=1)
    server = Server(out)
    try:
        server.serve(sys.stdin.buffer)
    except KeyboardInterrupt:
        server.stop()
    for stream in (sys.stderr, out):
        with contextlib.suppress(OSError, ValueError):  # the client may be gone: nobody reads
            stream.flush()
    # Skip interpreter teardown: a job thread still inside a library call must not keep the
    # process (and its GPU memory) alive after the client has gone.
    os._exit(0)
