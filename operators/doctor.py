"""``atelier.backend_doctor``: check the backend through the same client and protocol as every
job (a ``doctor`` request), and keep the report in the preferences (``doctor_report``).

A remote backend is checked on the way: the connection's hello proves it reachable, an Atelier
backend of this protocol version and the token accepted (any of these failing is the report's
reason); the server then runs its own doctor, and a ``models`` request lists what its cache
holds. The report starts with what was found about the server."""

from __future__ import annotations

import bpy

from .. import preferences
from ..client import session
from ..client.remote_http import one_line
from ..client.session import ApplyError
from ..core import protocol
from ..core.results import DoctorResult, ModelsResult
from .backend_operator import BackendJobOperator

DOCTOR_TIMEOUT = 300.0  # seconds; the first run imports torch and builds two tiny models
RUNNING_REPORT = "Doctor is running…"
FAILED = "Doctor failed"
REASON_LINES = 2  # the report's last lines: what broke and the hint
MAX_TASKS_SHOWN = 30  # of a remote backend's capabilities (Atelier has a dozen tasks)


class ATELIER_OT_backend_doctor(BackendJobOperator, bpy.types.Operator):
    """Check the backend environment (Python, torch, device, models) and show what was found"""

    bl_idname = "atelier.backend_doctor"
    bl_label = "Doctor"
    bl_options = set()  # changes no scene data: no undo step
    timeout = DOCTOR_TIMEOUT
    _doctor: DoctorResult | None = None  # a remote backend's doctor result, while its models are listed

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        doctor_running = any(job.request.type == protocol.DoctorRequest.type for job in session.active_jobs())
        return preferences_job_may_start(cls, context, busy="Doctor is running" if doctor_running else "")

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        _set_report(RUNNING_REPORT)
        self._doctor = None
        # The Texture Model preference (a folder or an id; the built-in engine needs no GPU).
        texture_model = preferences.resolved_model("texture")
        return protocol.DoctorRequest(id=request_id, device=preferences.resolved_device(),
                                      texture_model="" if texture_model == "builtin" else texture_model)

    def follow_up(self, context: bpy.types.Context, result) -> protocol.Request | None:
        """A remote backend's doctor is followed by the list of models its cache holds."""
        if not isinstance(result, DoctorResult) or not preferences.uses_remote():
            return None
        self._doctor = result
        return protocol.ModelsRequest(id=session.new_request_id())

    def apply_result(self, context: bpy.types.Context, result) -> str:
        """``result`` is a ``core.results.DoctorResult`` (``ok`` and the report's text), or for a
        remote backend the ``ModelsResult`` that followed it."""
        server = ""
        if isinstance(result, ModelsResult):
            server = remote_summary(self._client, result)
            result = self._doctor
        report = f"{server}\n{result.report.strip()}".strip()
        if result.ok:
            _set_report(f"{report}\nBackend OK".strip())
            redraw_preferences(context)
            return "Backend OK"
        lines = result.report.strip().splitlines()[-REASON_LINES:] or ["the backend sent no report"]
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


def remote_summary(client, models: ModelsResult) -> str:
    """What the connection found about a remote backend, and the models its cache holds."""
    hello = client.hello  # the connection queues it only once all three checks passed
    lines = [f"remote backend: {client.config.shown_url}: reachable, token accepted, protocol "
             f"{protocol.PROTOCOL_VERSION} as this Atelier"]
    if hello is not None:  # the server's own words: shown as short printable text only
        tasks = one_line(", ".join(str(task) for task in hello.capabilities[:MAX_TASKS_SHOWN]), 200)
        version = one_line(str(hello.backend_version), 40)
        lines.append(f"remote backend version {version}; tasks: {tasks}")
    cached = [one_line(str(row.id), 200) for row in models.models if row.revisions][:MAX_TASKS_SHOWN]
    lines.append(f"models in the server's cache: {', '.join(cached) if cached else 'none'} (models in "
                 "its --model-dir folders are not listed)")
    return "\n".join(lines)


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
