"""``atelier.backend_doctor``: check the backend through the same client and protocol as every
job (a ``doctor`` request), and keep the report in the preferences (``doctor_report``)."""

from __future__ import annotations

import bpy

from .. import preferences
from ..client import session
from ..client.session import ApplyError
from ..core import protocol
from .backend_operator import BackendJobOperator

DOCTOR_TIMEOUT = 300.0  # seconds; the first run imports torch and builds two tiny models
RUNNING_REPORT = "Doctor is running…"
FAILED = "Doctor failed"
REASON_LINES = 2  # the report's last lines: what broke and the hint


class ATELIER_OT_backend_doctor(BackendJobOperator, bpy.types.Operator):
    """Check the backend environment (Python, torch, device, models) and show what was found"""

    bl_idname = "atelier.backend_doctor"
    bl_label = "Doctor"
    bl_options = set()  # changes no scene data: no undo step
    timeout = DOCTOR_TIMEOUT

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        doctor_running = any(job.request.type == protocol.DoctorRequest.type for job in session.active_jobs())
        return preferences_job_may_start(cls, context, busy="Doctor is running" if doctor_running else "")

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        _set_report(RUNNING_REPORT)
        # The Texture Model preference (a folder or an id; the built-in engine needs no GPU).
        texture_model = preferences.resolved_model("texture")
        return protocol.DoctorRequest(id=request_id, device=preferences.resolved_device(),
                                      texture_model="" if texture_model == "builtin" else texture_model)

    def apply_result(self, context: bpy.types.Context, result) -> str:
        """``result`` is a ``core.results.DoctorResult``: ``ok`` and the report's text."""
        report = result.report.strip()
        if result.ok:
            _set_report(f"{report}\nBackend OK".strip())
            redraw_preferences(context)
            return "Backend OK"
        lines = report.splitlines()[-REASON_LINES:] or ["the backend sent no report"]
        reason = "; ".join(line.removeprefix("doctor: BROKEN: ") for line in lines)
        message = f"{FAILED}: {reason}"
        _set_report(f"{report}\n{message}".strip())
        redraw_preferences(context)
        raise ApplyError(message)

    def _report_error(self, context: bpy.types.Context, message: str) -> None:
        """Every failure (no backend, an error event, the deadline) also lands in the report."""
        if not message.startswith("Doctor"):
            message = f"{FAILED}: {message}"
        if not _report().endswith(message):  # apply_result stored the full report already
            _set_report(message)
        redraw_preferences(context)
        super()._report_error(context, message)


def _report() -> str:
    prefs = preferences.addon_preferences()
    return prefs.doctor_report if prefs is not None else ""


def _set_report(text: str) -> None:
    prefs = preferences.addon_preferences()
    if prefs is not None:
        prefs.doctor_report = text


def preferences_job_may_start(operator: type, context: bpy.types.Context, busy: str = "") -> bool:
    """The poll of the backend jobs started from the preferences (Doctor, the model manager):
    the backend can start and no Atelier job runs. ``busy`` is one more reason not to start
    (checked after the backend); the reason that stops it becomes the button's tooltip."""
    state = getattr(context.window_manager, "atelier", None)
    running = state is not None and state.running
    problem = (preferences.backend_problem() or busy
               or ("An Atelier job is running; wait for it or cancel it" if running else ""))
    if problem:
        operator.poll_message_set(problem)
    return not problem


def redraw_preferences(context: bpy.types.Context) -> None:
    """Redraw every open Preferences area (the Doctor report and the model manager live there)."""
    window_manager = context.window_manager
    for window in window_manager.windows if window_manager is not None else ():
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()


classes = (ATELIER_OT_backend_doctor,)
register, unregister = bpy.utils.register_classes_factory(classes)
