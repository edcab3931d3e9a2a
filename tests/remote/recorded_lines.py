"""The lines a remote transport queues, for tests: ``job_lines(transport, protocol, request)``
sends a request and reads the lines up to the job's last; ``record_lines(transport)`` makes the
queue keep every line put into it, even a progress line a newer one replaced before anyone read it,
so a test can say how often each event was queued whatever the speed of its reader."""

from __future__ import annotations

import json


def job_lines(transport, protocol, request) -> list[dict]:
    """Send ``request``; every line read from the transport up to the job's result or error."""
    transport.send(protocol.encode(request))
    lines = []
    while not lines or lines[-1]["type"] not in ("result", "error"):
        lines.append(json.loads(transport.lines.get(timeout=120)))
    return lines


def record_lines(transport) -> list[dict]:
    """Swap in a recording queue (before the job is sent); returns its log of decoded lines."""
    put_log: list[dict] = []

    class Recorded(type(transport.lines)):
        def _put(self, item) -> None:
            put_log.append(json.loads(item[1] if isinstance(item, tuple) else item))
            super()._put(item)

    transport.lines = Recorded()
    return put_log
