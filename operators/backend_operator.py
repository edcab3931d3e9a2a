"""``BackendJobOperator``: the one way an operator runs a backend job.

A subclass of ``bpy.types.Operator`` that mixes this in writes two methods:

* ``make_request(self, context, request_id) -> protocol.Request`` (raise ``session.JobRefused``
  to refuse before anything starts), and
* ``apply_result(self, context, result) -> str`` (the INFO report; raise
  ``session.ApplyError`` to report a failure with the scene unchanged). ``result`` is the
  typed result ``core.results.parse_result`` made of the backend's answer on receipt
  (``TextureResult``, ``PaletteResult``, ``IdeasResult``, ``DoctorResult``): a malformed
  answer never gets here, it ends the job with an ``invalid_output`` error. Files it names lie
  in the job's own folder; an operator whose result has files calls
  ``session.release(result.id)`` once it has read them, and the folder is removed.

An operator whose result needs a second job before anything is applied (the PBR maps of a
generated texture) writes ``follow_up(self, context, result) -> protocol.Request | None``: a
request there starts the next job of the chain, and only the last job's result reaches
``apply_result`` (the operator keeps what it needs of the earlier ones). The whole chain is one
operator call: one undo step, one Esc, one error.

An operator whose result can be shown before it is complete (a texture's pixels sent ahead of
its PNG) asks for that in ``make_request`` when ``early_pixels_wanted()`` says so, and writes
``show_early(self, context, job)`` (put ``job.early`` up at once) and ``drop_early(self,
context)`` (take it off again): on the UI's path ``modal`` calls ``show_early`` once per job,
as soon as the pixels came (while the job or its chain still runs); ``apply_result`` completes
what it put up, and a call that ends any other way (an error, Esc, a time-out, Blender ending
the operator) calls ``drop_early``, so the scene is as it was. The blocking path never asks.

An operator whose call can run inside Blender (the built-in engine) also writes
``runs_in_blender`` and ``run_in_blender`` (returns the INFO report; raises like the two above,
or ``ValueError``); then no backend is started at all. One whose call an OpenAI-compatible
text server can answer (a palette from a prompt, scene ideas) says so in ``uses_text_server``:
with a Text Server URL set the job goes there (``client/text_server.py``), and no backend is
needed or started. One that
prepares something for the backend in ``make_request`` (a temporary file) frees it in
``release_request``, which runs once the job has ended however it ended. One that must not
wait for ever sets ``timeout`` (seconds): past it the job is cancelled and the operator ends
with an error saying it gave no answer in time, in the UI and in background mode alike.

In the UI the job is asynchronous: a modal timer drains events, the panel shows a progress
bar, the status bar says what runs, and Esc or ``atelier.cancel_job`` cancels. With
``bpy.app.background`` (``blender -b``, the bpy module) ``execute`` blocks until the job ends.
Either way the result is FINISHED, or CANCELLED with the error reported as ``{'ERROR'}``.
"""

from __future__ import annotations

import time

import bpy

from .. import preferences
from ..client import session
from ..client.backend_client import BackendConfig
from ..core import protocol

TIMER_INTERVAL = 0.1  # seconds between drains; cheap (a queue read) and smooth enough
_MODEL_CODES = ("model_missing", "model_invalid")  # errors after which the built-in engine helps


class BackendJobOperator:
    """Mixin for operators that run one backend job and apply its result."""

    # One undo step for the result. No REGISTER: a redo panel would re-run the job, blocking
    # the UI, on every tweak.
    bl_options = {"UNDO"}
    _job = None  # the running session.Job
    _client = None
    _timer = None
    # How to get a draft from the built-in engine instead ('' when there is no way), said after
    # a backend that cannot start and after a model that is missing or cannot be loaded.
    builtin_alternative = ""
    # Seconds the job may take before it is cancelled and reported as unanswered (None: no limit).
    timeout: float | None = None
    _deadline: float | None = None  # time.monotonic() when ``timeout`` runs out
    _timed_out = False
    _modal = False  # this call runs on the UI's path (``invoke`` with a window)
    _early_shown_for = ""  # the id of the job whose early pixels were shown ('' = none yet)

    # ----------------------------------------------------------- what subclasses write

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        raise NotImplementedError

    def apply_result(self, context: bpy.types.Context, result) -> str:
        """Apply ``result`` (a ``core.results`` dataclass); returns the INFO report."""
        raise NotImplementedError

    def follow_up(self, context: bpy.types.Context, result) -> protocol.Request | None:
        """The next job of a chain, to run on ``result`` before anything is applied (None:
        apply ``result`` now). Raise ``session.JobRefused`` to end the chain with an error."""
        return None

    def job_label(self) -> str:
        """Shown in the status bar and panel while the job runs."""
        return getattr(self, "bl_label", "Atelier job")

    def runs_in_blender(self, context: bpy.types.Context) -> bool:
        """True when this call needs no backend (the built-in engine); ``run_in_blender`` runs it."""
        return False

    def uses_text_server(self, context: bpy.types.Context) -> bool:
        """True when a text server answers this call (a palette from a prompt, scene ideas): with
        a Text Server URL set it goes there (``client/text_server.py``), not to the backend."""
        return False

    def run_in_blender(self, context: bpy.types.Context) -> str:
        raise NotImplementedError

    def describe_error(self, error: protocol.ErrorEvent) -> str:
        """The report for a backend error: its message and hint, and the built-in way round a
        model that cannot be had (the engine is never swapped silently)."""
        text = session.format_error(error.message, error.hint)
        if error.code in _MODEL_CODES and self.builtin_alternative:
            text += f"; {self.builtin_alternative}"
        return text

    def early_pixels_wanted(self) -> bool:
        """Whether to ask the backend for a result's pixels ahead of it: on the UI's path only
        (a timer tick shows them while the job finishes; ``blender -b`` applies the result as
        it comes) and from the local backend only, whose job folder Blender reads as it is
        written (a remote backend's files come with its result; a text server makes none)."""
        return self._modal and isinstance(getattr(self._client, "config", None), BackendConfig)

    def show_early(self, context: bpy.types.Context, job: session.Job) -> None:
        """Show ``job.early`` (the finished pixels sent ahead of ``job``'s result) at once.

        UI only: ``modal`` calls it once per job; ``apply_result`` completes what it put up, and
        ``drop_early`` takes it off when the call ends otherwise. A failure here must leave
        nothing: the result still decides."""

    def drop_early(self, context: bpy.types.Context) -> None:
        """Take off what ``show_early`` put up, the scene as it was before the call: the job
        failed, was cancelled or timed out, or Blender ended the operator. It may run twice."""

    def release_request(self, context: bpy.types.Context) -> None:
        """Free what ``make_request`` prepared for the backend (e.g. a temporary file).

        Called when the job can no longer need it: after a result, an error or a cancel, when
        the request could not be sent, and when Blender ends the operator. It may run twice.
        """

    # ----------------------------------------------------------- Blender's entry points

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Blocking: start the job, wait for it, apply it."""
        if self.runs_in_blender(context):
            return self._run_here(context)
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        while True:
            try:
                session.wait(self._client, job, timeout=self._time_left(),
                             on_progress=self._print_progress)
            finally:
                _session(context).running = False
            self._timed_out = job.cancelled and self._past_deadline()
            next_job = self._next_in_chain(context, job)
            if next_job is None:
                return self._finish(context, job)
            job = next_job

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        """Asynchronous in the UI; falls back to blocking when there is no window."""
        if bpy.app.background or context.window is None or self.runs_in_blender(context):
            return self.execute(context)
        job = self._start(context, modal=True)
        if job is None:
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_INTERVAL, window=context.window)
        wm.modal_handler_add(self)
        self._show_progress(context, job)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        job = self._job
        if event.type == "ESC" and event.value == "PRESS":
            if job.cancel_requested:
                # A second Esc: stop waiting for a backend that does not confirm.
                session.abandon(job, "cancelled")
            else:
                session.cancel(self._client, job)
                self._show_progress(context, job)
                return {"RUNNING_MODAL"}
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        session.drain(self._client)
        if not job.done and self._past_deadline():
            session.abandon(job, f"no answer within {self.timeout:g} s")
            self._timed_out = True
        if not job.done:
            self._show_early(context, job)
        else:
            next_job = self._next_in_chain(context, job)
            if next_job is not None:
                self._show_early(context, job)  # shown while the chain's next job runs
                job = next_job
        if not job.done:
            self._show_progress(context, job)
            return {"PASS_THROUGH"}
        self._stop_modal(context)
        return self._finish(context, job)

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the modal operator (window closed, file loaded): stop the job too."""
        if self._job is not None and not self._job.done:
            session.cancel(self._client, self._job)
        try:
            self.drop_early(context)
            self.release_request(context)
        finally:  # whatever freeing the request met, the modal run and its status bar end
            self._stop_modal(context)

    # ----------------------------------------------------------- steps

    def _start(self, context: bpy.types.Context, modal: bool = False) -> session.Job | None:
        """Send the request (``make_request``); ``modal``: on the UI's path (``invoke``)."""
        self._modal = modal
        self._early_shown_for = ""
        try:
            text_server = preferences.text_server_config() if self.uses_text_server(context) else None
            problem = "" if text_server is not None else preferences.backend_problem()
            if problem:
                raise session.JobRefused(f"{problem}, {self.builtin_alternative}"
                                      if self.builtin_alternative else problem)
            self._client = session.client_for(
                text_server or preferences.backend_config(session.EXTENSION_DIR))
            request = self.make_request(context, session.new_request_id())
            job = session.submit(self._client, request, label=self.job_label())
        except session.JobRefused as exc:
            self.release_request(context)
            self._report_error(context, str(exc))
            return None
        self._deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self._timed_out = False
        self._running(context, job)
        return job

    def _next_in_chain(self, context: bpy.types.Context, job: session.Job) -> session.Job | None:
        """Start the chain's next job when ``job`` succeeded and ``follow_up`` asks for one.

        None ends the chain with ``job``; a refused follow-up becomes ``job``'s error."""
        if job.error is not None:
            return None
        try:
            request = self.follow_up(context, job.result)
            if request is None:
                return None
            next_job = session.submit(self._client, request, label=self.job_label())
        except session.JobRefused as exc:
            job.error = protocol.ErrorEvent(id=job.id, code="bad_request", message=str(exc))
            return None
        self._running(context, next_job)
        return next_job

    def _running(self, context: bpy.types.Context, job: session.Job) -> None:
        """``job`` is the one running now: the panels and the status bar follow it."""
        self._job = job
        state = _session(context)
        state.running = True
        state.job_operator = self.bl_idname
        state.job_label = job.label
        state.progress = 0.0
        state.stage = job.stage

    def _finish(self, context: bpy.types.Context, job: session.Job) -> set[str]:
        self.release_request(context)
        state = _session(context)
        state.running = False
        state.progress = 0.0
        if job.error is not None:
            self.drop_early(context)
            if self._timed_out:
                self._report_error(context, f"{job.label} gave no answer within {self.timeout:g} s; "
                                            "it was cancelled")
                return {"CANCELLED"}
            if job.cancelled:
                self.report({"WARNING"}, f"{job.label}: cancelled")
                return {"CANCELLED"}
            self._report_error(context, self.describe_error(job.error))
            return {"CANCELLED"}
        try:
            message = self.apply_result(context, job.result)
        except session.ApplyError as exc:
            self.drop_early(context)  # ``apply_result`` takes it off itself; a second time does nothing
            self._report_error(context, str(exc))
            return {"CANCELLED"}
        return self._succeeded(context, message)

    def _show_early(self, context: bpy.types.Context, job: session.Job) -> None:
        """``show_early`` once per job, when its early pixels have come."""
        if job.early is not None and self._early_shown_for != job.id:
            self._early_shown_for = job.id
            self.show_early(context, job)

    def _time_left(self) -> float | None:
        """Seconds until ``timeout`` runs out for the whole chain (None: no limit)."""
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _run_here(self, context: bpy.types.Context) -> set[str]:
        try:
            message = self.run_in_blender(context)
        except (session.JobRefused, session.ApplyError, ValueError) as exc:
            self._report_error(context, str(exc))
            return {"CANCELLED"}
        return self._succeeded(context, message)

    def _succeeded(self, context: bpy.types.Context, message: str) -> set[str]:
        state = _session(context)
        if state.last_error_operator == self.bl_idname:
            state.last_error = ""  # this operator's old error no longer applies
        self.report({"INFO"}, message)
        return {"FINISHED"}

    def _report_error(self, context: bpy.types.Context, message: str) -> None:
        report_error(self, context, message)

    def _show_progress(self, context: bpy.types.Context, job: session.Job) -> None:
        state = _session(context)
        state.progress = job.fraction
        state.stage = "cancelling" if job.cancel_requested else job.stage
        steps = f" {job.step}/{job.total}" if job.total else ""
        if context.workspace is not None:
            context.workspace.status_text_set(
                f"Atelier: {job.label} — {state.stage}{steps}   (Esc to cancel)")
        redraw_sidebars(context)

    def _stop_modal(self, context: bpy.types.Context) -> None:
        stop_modal(self, context)

    @staticmethod
    def _print_progress(job: session.Job) -> None:
        steps = f" {job.step}/{job.total}" if job.total else ""
        print(f"Atelier: {job.label}: {job.stage}{steps}", flush=True)


def _session(context: bpy.types.Context):
    """Session-only job state (``WindowManager.atelier``), read by the panels."""
    return context.window_manager.atelier


session_state = _session  # for other job operators (the batch queue)


def report_error(operator: bpy.types.Operator, context: bpy.types.Context, message: str) -> None:
    """Report ``message`` as ``operator``'s error and keep it for the panels until it succeeds."""
    state = _session(context)
    state.last_error = message
    state.last_error_operator = operator.bl_idname
    operator.report({"ERROR"}, message)


def stop_modal(operator, context: bpy.types.Context) -> None:
    """End ``operator``'s modal run: its timer (``operator._timer``), the status bar, the bar."""
    if operator._timer is not None:
        context.window_manager.event_timer_remove(operator._timer)
        operator._timer = None
    if context.workspace is not None:
        context.workspace.status_text_set(None)
    state = _session(context)
    state.running = False
    state.progress = 0.0
    redraw_sidebars(context)


def redraw_sidebars(context: bpy.types.Context) -> None:
    """Redraw the 3D views' sidebars, where the Atelier tab shows the job."""
    screen = context.screen
    if screen is None:
        return
    for area in screen.areas:
        if area.type == "VIEW_3D":
            area.tag_redraw()
