"""What the transports without a backend process share (a text server's, ``text_server``; a
remote backend's, ``remote_transport``): protocol lines in, one worker thread per job doing the
network part, protocol lines out, so Blender's main thread never waits on the network.

``JobTransport`` decodes each request line (one that cannot be read is answered with its error),
finds the job a cancel names, starts a job's thread, and on ``stop`` ends every job's call and
waits briefly for the threads. Its ``lines`` is a ``LatestLines`` queue: a job's progress line
replaces the one of that job still waiting to be read, so a server that floods progress costs one
line per job however much it sends, and the queue holds a few lines per job at most.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from dataclasses import dataclass, field

from ..core import protocol
from .transport import TransportClosed


class LatestLines(queue.Queue):
    """Protocol lines; ``put_latest(job, line)`` replaces that job's line still waiting."""

    def put_latest(self, key: str, line: str) -> None:
        self.put((key, line))

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self._waiting: dict[str, list[str]] = {}

    def _put(self, item) -> None:
        key, line = item if isinstance(item, tuple) else (None, item)
        cell = self._waiting.get(key) if key is not None else None
        if cell is not None:
            cell[0] = line  # in the place of the older one: the order of a job's lines holds
            return
        cell = [line]
        if key is not None:
            self._waiting[key] = cell
        self.queue.append((key, cell))

    def _get(self) -> str:
        key, cell = self.queue.popleft()
        if key is not None and self._waiting.get(key) is cell:
            del self._waiting[key]
        return cell[0]


@dataclass
class Job:
    """One request's worker; subclasses add what their calls need."""

    request: protocol.Request
    cancelled: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class JobTransport:
    """Protocol lines in, protocol lines out; one worker thread per job, none for the rest.
    A subclass says what a request starts (``take``), how a job is cancelled (``cancel_job``)
    and ended at once (``end_job``), and runs it (``run_job``)."""

    LOG_LINES = 50
    THREAD_NAME = "atelier-job"

    def __init__(self) -> None:
        self.lines: LatestLines = LatestLines()
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._running = False
        self._log: collections.deque[str] = collections.deque(maxlen=self.LOG_LINES)

    def start(self) -> None:
        self.lines = LatestLines()
        self._running = True

    def send(self, line: str) -> None:
        if not self._running:
            raise TransportClosed(self.closed_message())
        try:
            request = protocol.decode_request(line)
        except protocol.ProtocolError as exc:
            self.emit(protocol.ErrorEvent(id=exc.request_id, code=exc.code, message=exc.message,
                                          hint=exc.hint))
            return
        if isinstance(request, protocol.CancelRequest):
            with self._lock:
                job = self._jobs.get(request.job)
            if job is None:
                self.emit(protocol.ErrorEvent(id=request.id, code="bad_request",
                                              message=f"no job {request.job!r} is running"))
            else:
                self.cancel_job(job)
        else:
            self.take(request)

    def alive(self) -> bool:
        return self._running

    def wait_exit(self, timeout: float) -> int | None:
        return None if self._running else 0

    def log_tail(self, count: int = 20) -> str:
        return "\n".join(list(self._log)[-count:])

    def stop(self, timeout: float = 5.0) -> None:
        """Close: every job's call is ended now, its thread reports nothing any more and is
        given up to ``timeout`` seconds (all together) to finish."""
        self._running = False
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self.end_job(job)
        until = time.monotonic() + timeout
        for job in jobs:
            if job.thread is not None and job.thread is not threading.current_thread():
                job.thread.join(max(0.0, until - time.monotonic()))

    # ------------------------------------------------------------------ for subclasses

    def begin(self, job: Job) -> None:
        """Start ``job``'s thread (``run_job``); a second job with a running job's id is refused."""
        request = job.request
        with self._lock:
            if request.id in self._jobs:
                self.emit(protocol.ErrorEvent(id=request.id, code="bad_request",
                                              message=f"a job with id {request.id!r} is already running"))
                return
            self._jobs[request.id] = job
        job.thread = threading.Thread(target=self.run_job, args=(job, self.lines),
                                      name=f"{self.THREAD_NAME}-{request.id}", daemon=True)
        job.thread.start()

    def finished(self, job: Job) -> None:
        """``job``'s thread is done with it."""
        with self._lock:
            if self._jobs.get(job.request.id) is job:
                del self._jobs[job.request.id]

    def emit(self, event: protocol.Event) -> None:
        self.lines.put(protocol.encode(event))

    def closed_message(self) -> str:
        raise NotImplementedError

    def take(self, request: protocol.Request) -> None:
        raise NotImplementedError

    def cancel_job(self, job: Job) -> None:
        raise NotImplementedError

    def end_job(self, job: Job) -> None:
        raise NotImplementedError

    def run_job(self, job: Job, lines: LatestLines) -> None:
        raise NotImplementedError
