"""The protocol on top of a transport: send requests, collect events, survive a dead backend.

Everything here runs on the caller's thread (Blender's main thread); nothing blocks unless the
caller asks for a timeout. A backend that dies is noticed on the next ``poll``: every request
still in flight gets a ``backend_exited`` error event saying how it ended (its exit status, the
signal that killed it) and its last stderr line that may say why, and the next ``submit`` starts
a fresh backend. A request the dead backend never answered at all (it died before reading it:
killed between one job's result and the next request, say) is sent once more to a fresh backend
instead, so the next job works. An answer that cannot be read ends the job it
names with ``invalid_output``; one that names no job ends every job in flight that way and stops
the backend, whose stream can no longer be trusted.
"""

from __future__ import annotations

import queue
import re
import signal
import time
from dataclasses import dataclass, field

from ..core import protocol
from .transport import SubprocessTransport, Transport, TransportClosed

# Stderr lines that say what was under way, never why the backend stopped: a progress bar
# ("Loading pipeline components...: 100%|█████| 6/6") and the backend's routine log lines.
_NOT_A_REASON = re.compile(r"\d+%\||\d(?:it/s|s/it)\]|^\S+ \S+ atelier-backend (?:INFO|DEBUG) ")
# What a line that explains a death by a signal looks like (a segfault's "Fatal Python error").
_AN_ERROR = re.compile(r"error|exception|fatal|traceback|abort", re.IGNORECASE)
BACKEND_EXITED_HINT = ("run it again: a fresh backend starts; if it keeps stopping, check that the "
                       "computer has memory to spare and run Doctor in Atelier's preferences")

# An ``"id"`` with its whole text value: an unreadable line holding one names a job (in flight,
# or one that ended here), so the lines around it still belong to their own jobs.
_NAMES_AN_ID = re.compile(r'"id"\s*:\s*"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class BackendConfig:
    """What decides which backend runs; a change of config means a restart."""

    python: str
    cwd: str
    env: tuple = field(default_factory=tuple)  # sorted (name, value) pairs

    def make_transport(self) -> Transport:
        """The connection this configuration uses (pipes to a subprocess today)."""
        return SubprocessTransport(self.python, self.cwd, dict(self.env))


class BackendClient:
    """One backend process (started on first use), its requests in flight and its events."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self._transport: Transport | None = None
        self._in_flight: set[str] = set()
        # Requests in flight the backend has not answered at all yet, and the ids sent once more
        # after a backend died before answering them (``_send_unheard_again``).
        self._unheard: dict[str, protocol.Request] = {}
        self._sent_again: set[str] = set()
        self.hello: protocol.HelloEvent | None = None
        self.last_activity = time.monotonic()

    # ------------------------------------------------------------------ lifecycle

    def running(self) -> bool:
        return self._transport is not None and self._transport.alive()

    def ensure_started(self) -> None:
        """Start the backend unless it runs; a dead one is replaced."""
        if self.running():
            return
        if self._transport is not None:
            self._transport.stop(timeout=1.0)
        self.hello = None
        transport = self.config.make_transport()
        transport.start()
        self._transport = transport

    def stop(self) -> None:
        """Stop the backend (stdin closes, so it exits); requests in flight are forgotten."""
        transport, self._transport = self._transport, None
        self._forget_in_flight()
        if transport is not None:
            transport.stop()

    def log_tail(self) -> str:
        return self._transport.log_tail() if self._transport is not None else ""

    # ------------------------------------------------------------------ requests

    def submit(self, request: protocol.Request) -> None:
        """Send a request, starting the backend first when needed; raises ``TransportClosed``."""
        self.ensure_started()
        try:
            self._transport.send(protocol.encode(request))
        except TransportClosed as exc:
            if not isinstance(self._transport, SubprocessTransport):
                raise  # a connection, not a process: its own message says why
            # It died as it started (an import error, a wrong interpreter): say why.
            raise TransportClosed(self._exit_message()) from exc
        if not isinstance(request, (protocol.CancelRequest, protocol.UnloadRequest,
                                    protocol.ShutdownRequest)):
            self._in_flight.add(request.id)
            self._unheard[request.id] = request
        self.last_activity = time.monotonic()

    def send_if_running(self, request: protocol.Request) -> bool:
        """Send a request only to a backend that is already up (cancel, unload)."""
        if not self.running():
            return False
        if isinstance(request, protocol.CancelRequest):
            self._unheard.pop(request.job, None)  # a cancelled job is never sent again
        try:
            self._transport.send(protocol.encode(request))
        except TransportClosed:
            return False
        self.last_activity = time.monotonic()
        return True

    def forget(self, request_id: str) -> None:
        """Job ``request_id`` ended on the client's side (cancelled while the backend was gone):
        it is never sent again to a fresh backend, and nothing more is awaited for it."""
        self._in_flight.discard(request_id)
        self._unheard.pop(request_id, None)
        self._sent_again.discard(request_id)

    # ------------------------------------------------------------------ events

    def poll(self, timeout: float = 0.0) -> list[protocol.Event]:
        """Every event available now; waits up to ``timeout`` seconds for the first one."""
        if self._transport is None:
            return []
        lines = self._transport.lines
        events: list[protocol.Event] = []
        block = timeout > 0
        while True:
            try:
                line = lines.get(block=block, timeout=timeout if block else None)
            except queue.Empty:
                break
            block = False
            if line is None:
                events.extend(self._backend_gone())
                break
            if not line.strip():
                continue
            try:
                event = self._decode(line)
            except protocol.ProtocolError as exc:
                if exc.request_id is not None or _NAMES_AN_ID.search(line) or not self._in_flight:
                    events.extend(self._unreadable(line, exc))
                    continue
                events.extend(self._untrusted(exc.message))
                break
            events.append(event)
            if isinstance(event, protocol.HelloEvent) and event.protocol != protocol.PROTOCOL_VERSION:
                events.extend(self._wrong_protocol(event.protocol))
                break
        return events

    def _decode(self, line: str) -> protocol.Event:
        """The event on ``line``, noted against its job; raises ``ProtocolError``."""
        event = protocol.decode_event(line)
        if isinstance(event, protocol.HelloEvent):
            self.hello = event
        elif getattr(event, "id", None) in self._in_flight:
            # Only work counts as activity: answers to unload must not restart the idle clock.
            self.last_activity = time.monotonic()
            self._unheard.pop(event.id, None)
            if isinstance(event, (protocol.ResultEvent, protocol.ErrorEvent, protocol.PongEvent)):
                self._in_flight.discard(event.id)
                self._sent_again.discard(event.id)
        return event

    def _unreadable(self, line: str, exc: protocol.ProtocolError) -> list[protocol.ErrorEvent]:
        """An answer that cannot be read but names its job: that job ends here, now, rather than
        waiting for an answer that will never come in readable form. A line naming a job no
        longer in flight (one ended here), or arriving while none is, leaves nobody waiting."""
        request_id = exc.request_id if exc.request_id in self._in_flight else self._job_named_in(line)
        if request_id is None:
            return []
        self._in_flight.discard(request_id)
        self._unheard.pop(request_id, None)
        return [protocol.ErrorEvent(
            id=request_id, code="invalid_output",
            message=f"the backend's answer cannot be read: {exc.message}",
            hint="nothing was applied; run it again, and run Doctor if it keeps happening")]

    def _untrusted(self, problem: str) -> list[protocol.ErrorEvent]:
        """An answer that cannot be read and names no job (cut short before its ``"id"``): it may
        be any job's last word, and stdout carries protocol lines only, so the stream itself is
        broken. Every job in flight ends with ``invalid_output`` and the backend is stopped; the
        next request starts a fresh one."""
        events = [
            protocol.ErrorEvent(id=request_id, code="invalid_output",
                                message=f"the backend's answer cannot be read ({problem}) and names no "
                                        "job, so the stream cannot be trusted: the backend was stopped",
                                hint="nothing was applied; run it again (a fresh backend starts), and "
                                     "run Doctor if it keeps happening")
            for request_id in sorted(self._in_flight)
        ]
        self._forget_in_flight()
        if self._transport is not None:
            self._transport.stop(timeout=1.0)
        return events

    def _job_named_in(self, line: str) -> str | None:
        """The job in flight whose ``"id"`` an unreadable line names, or None.

        A line that is not JSON (cut short, a NaN, nesting past the parser's depth, a number
        of 5000 digits) is refused before its id is read; its text still names the job."""
        for request_id in self._in_flight:
            if re.search(r'"id"\s*:\s*"' + re.escape(request_id) + '"', line):
                return request_id
        return None

    def _wrong_protocol(self, spoken: int) -> list[protocol.ErrorEvent]:
        """A backend from another Atelier version: stop it rather than misread its answers."""
        events = [
            protocol.ErrorEvent(id=request_id, code="backend_exited",
                                message=f"the backend speaks protocol {spoken}, this Atelier "
                                        f"protocol {protocol.PROTOCOL_VERSION}",
                                hint="the backend runs from the installed extension's folder; "
                                     "reinstall Atelier so both parts are the same version")
            for request_id in sorted(self._in_flight)
        ]
        self._forget_in_flight()
        if self._transport is not None:
            self._transport.stop(timeout=1.0)
        return events

    def _exit_message(self) -> str:
        """'the backend process exited (status -9, killed by SIGKILL)', or '(status 1): <its last
        stderr line>' (``exit_message``)."""
        transport = self._transport
        status = transport.wait_exit(timeout=0.5) if transport is not None else None
        return exit_message(status, self.log_tail())

    def _backend_gone(self) -> list[protocol.ErrorEvent]:
        """The backend's stdout ended: its jobs end with ``backend_exited``, but for the ones it
        never answered at all, which a fresh backend gets once more (``_send_unheard_again``)."""
        transport = self._transport
        message = self._exit_message()
        unheard = [request for request_id, request in sorted(self._unheard.items())
                   if request_id not in self._sent_again]
        if transport is not None:
            transport.stop(timeout=1.0)
        sent_again = self._send_unheard_again(unheard)
        events = [
            protocol.ErrorEvent(id=request_id, code="backend_exited", message=message,
                                hint=BACKEND_EXITED_HINT)
            for request_id in sorted(self._in_flight - sent_again)
        ]
        self._forget_in_flight()
        self._in_flight.update(sent_again)
        self._unheard.update((request.id, request) for request in unheard if request.id in sent_again)
        self._sent_again.update(sent_again)
        return events

    def _send_unheard_again(self, requests: list[protocol.Request]) -> set[str]:
        """Send ``requests`` (the dead backend never answered them, so none of them began) to a
        fresh backend, each once: their ids. A local backend only: a remote server's connection
        says itself what became of its requests."""
        if not requests or not isinstance(self._transport, SubprocessTransport):
            return set()
        sent = set()
        try:
            self.ensure_started()
            for request in requests:
                self._transport.send(protocol.encode(request))
                sent.add(request.id)
        except TransportClosed:  # the fresh one died too: the rest end with the first's reason
            pass
        return sent

    def _forget_in_flight(self) -> None:
        """Forget every request in flight: none of them is awaited or sent again."""
        self._in_flight.clear()
        self._unheard.clear()
        self._sent_again.clear()


def exit_message(status: int | None, log_tail: str) -> str:
    """How the backend process ended, for its jobs' errors: the exit status (with the signal's
    name when one killed it) and its last stderr line that may say why. Progress bars and
    routine log lines say nothing of that, and after a signal only an error line does (a
    SIGKILL leaves the process no time to say anything)."""
    if status is None:
        how = "status unknown"
    elif status < 0:
        try:
            how = f"status {status}, killed by {signal.Signals(-status).name}"
        except ValueError:
            how = f"status {status}, killed by signal {-status}"
    else:
        how = f"status {status}"
    said = [line.strip() for line in log_tail.splitlines()
            if line.strip() and not _NOT_A_REASON.search(line)]
    last = said[-1] if said else ""
    if last and status is not None and status < 0 and not _AN_ERROR.search(last):
        last = ""
    return f"the backend process exited ({how})" + (f": {last}" if last else "")
