"""The ``doctor`` task: ``python -m backend doctor``'s checks, run by the server for a client.

Runs the same checks as the command (``backend/doctor.py``: libraries, devices, whether the
texture model fits the GPU's memory, a tiny texture and a tiny text model end to end) and
collects the report lines instead of printing them (stdout is the protocol here). A broken
environment is a result, not an error: ``data`` is ``{"ok": bool, "report": str}`` and, when
``ok`` is false, the report's last lines say what broke and what to change. Progress counts
the checks; a cancel is honoured between them (and inside the texture and text jobs, at their
next step).
"""

from __future__ import annotations

from core import protocol

from .. import doctor
from ..task_context import JobContext, TaskOutput


def run(request: protocol.DoctorRequest, job: JobContext) -> TaskOutput:
    """Check this backend; the report comes back in ``data``."""
    lines: list[str] = []

    def say(line: str, problem: bool = False) -> None:
        lines.append(line)

    def before_check(step: int, total: int, stage: str) -> None:
        job.check_cancelled()
        job.progress(step, total, stage)

    ok = doctor.run_checks(say, device=request.device, before_check=before_check,
                           cancel=job.cancel_event, texture_model=request.texture_model)
    job.progress(len(doctor.CHECKS), len(doctor.CHECKS), "done")
    return TaskOutput(data={"ok": ok, "report": "\n".join(lines)})

