"""The one exception type a task raises to report a failure the user can act on.

The server turns a ``TaskError`` into an ``error`` event with the same code, message and hint;
anything else a task raises is reported as ``internal`` (a bug).
"""

from __future__ import annotations

from .protocol import ERROR_CODES


class TaskError(Exception):
    """A failure with a protocol error code, a message saying what went wrong and a hint
    saying what to change."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}; use one of protocol.ERROR_CODES")
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


def first_line(exc: BaseException) -> str:
    """What an exception says, on one line (its type when it says nothing)."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class Cancelled(TaskError):
    """The client cancelled the job; raised at the next step the job checks."""

    def __init__(self) -> None:
        super().__init__("cancelled", "the job was cancelled")
