"""How protocol lines reach the backend and come back: a small interface and its pipe version.

The reader thread does one thing: move stdout lines into a queue. It never parses and never
touches bpy, so the main thread drains the queue whenever it likes and never blocks on a pipe
(pipes cannot be made non-blocking on Windows with Python 3.11). End of file is put in the
queue as ``None`` so the main thread learns at once that the backend is gone.
"""

from __future__ import annotations

import collections
import os
import queue
import subprocess
import sys
import threading
from typing import Protocol


class TransportClosed(ConnectionError):
    """The backend is not running (it exited or was never started)."""


class Transport(Protocol):
    """A line-based, full-duplex connection to one backend instance."""

    lines: queue.Queue  # str lines from the backend; ``None`` once the connection has ended

    def start(self) -> None: ...
    def send(self, line: str) -> None: ...
    def alive(self) -> bool: ...
    def wait_exit(self, timeout: float) -> int | None: ...
    def log_tail(self) -> str: ...
    def stop(self, timeout: float = 5.0) -> None: ...


class SubprocessTransport:
    """``<python> -m backend serve`` in ``cwd``, talking JSON lines over stdin/stdout."""

    LOG_LINES = 200  # stderr lines kept for error messages (tracebacks, warnings)

    def __init__(self, python: str, cwd: str, env: dict | None = None) -> None:
        self.python = python
        self.cwd = cwd
        self.env = env or {}
        self.lines: queue.Queue = queue.Queue()
        self._log: collections.deque[str] = collections.deque(maxlen=self.LOG_LINES)
        self._process: subprocess.Popen | None = None
        self._write_lock = threading.Lock()
        self._log_complete = threading.Event()

    def start(self) -> None:
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"  # progress lines must arrive while the job runs
        env["PYTHONIOENCODING"] = "utf-8"
        self.lines = queue.Queue()
        self._log_complete = threading.Event()
        try:
            self._process = subprocess.Popen(
                [self.python, "-m", "backend", "serve"],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                # The backend must not receive the terminal's Ctrl-C meant for Blender.
                start_new_session=sys.platform != "win32",
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            )
        except OSError as exc:
            self._process = None
            raise TransportClosed(f"cannot start the backend with {self.python!r}: {exc}") from exc
        threading.Thread(target=self._read_stdout, args=(self._process, self.lines),
                         name="atelier-backend-stdout", daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(self._process, self._log_complete),
                         name="atelier-backend-stderr", daemon=True).start()

    @staticmethod
    def _read_stdout(process: subprocess.Popen, lines: queue.Queue) -> None:
        with process.stdout:  # each reader closes its own pipe at end of file: no leaked handle
            for line in process.stdout:
                lines.put(line.rstrip("\r\n"))
        lines.put(None)

    def _read_stderr(self, process: subprocess.Popen, complete: threading.Event) -> None:
        with process.stderr:
            for line in process.stderr:
                self._log.append(line.rstrip("\r\n"))
        complete.set()

    def send(self, line: str) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            raise TransportClosed("the backend is not running")
        try:
            with self._write_lock:
                process.stdin.write(line + "\n")
                process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise TransportClosed(f"the backend stopped reading: {exc}") from exc

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait_exit(self, timeout: float) -> int | None:
        """The exit status once the backend has exited and its last stderr line has been read.

        Stdout's end of file can arrive before the exit status and before the stderr reader has
        seen the reason (an import error, a traceback), so the caller waits here, briefly.
        """
        process = self._process
        if process is None:
            return None
        try:
            status = process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._log_complete.wait(timeout)
        return status

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def log_tail(self, count: int = 20) -> str:
        return "\n".join(list(self._log)[-count:])

    def stop(self, timeout: float = 5.0) -> None:
        """Close stdin (the backend exits on EOF), then terminate, then kill."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
