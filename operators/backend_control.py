"""Backend housekeeping: cancel the running job, free memory, and the handlers that stop jobs
on file load, unload idle models and stop the backend when Blender quits. (Doctor is a backend
job like any other: ``doctor.py``.)"""

from __future__ import annotations

import atexit

import bpy

from .. import preferences
from ..client import session
from . import app_handlers

IDLE_CHECK_INTERVAL = 30.0  # seconds between idle checks; unloading is not urgent
LOAD_REASON = "a file was loaded"  # another one, or the same one again


class ATELIER_OT_cancel_job(bpy.types.Operator):
    """Cancel the Atelier job that is running"""

    bl_idname = "atelier.cancel_job"
    bl_label = "Cancel"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not session.active_jobs():
            cls.poll_message_set("No Atelier job is running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        for job in session.active_jobs():
            session.cancel(session.current_client(), job)
        self.report({"INFO"}, "Cancelling")
        return {"FINISHED"}


class ATELIER_OT_free_memory(bpy.types.Operator):
    """Unload every model from the backend now, giving GPU memory back (e.g. to Cycles)"""

    bl_idname = "atelier.free_memory"
    bl_label = "Free Memory"

    def execute(self, context: bpy.types.Context) -> set[str]:
        if session.active_jobs():
            self.report({"WARNING"}, "A job is running; cancel it first")
            return {"CANCELLED"}
        if not session.unload():
            self.report({"INFO"}, "The backend is not running: no model is loaded")
            return {"FINISHED"}
        self.report({"INFO"}, "Models unloaded")
        return {"FINISHED"}


# ---------------------------------------------------------------------- handlers


# What a file load began with: the jobs running then, which end once the file is loaded, and the
# running job's (operator, label), for the loaded file's panel.
_jobs_at_load: list[session.Job] = []
_running_at_load: tuple[str, str] | None = None


@bpy.app.handlers.persistent
def _note_the_running_jobs(*_args) -> None:
    """A file is about to load: note the jobs running now, which belong to the file being
    closed, and whose job runs, since Blender ends its operator during the load, and with it
    what the panels show."""
    global _jobs_at_load, _running_at_load
    _jobs_at_load = session.active_jobs()
    state = _job_state()
    running = bool(_jobs_at_load) and state is not None and state.running
    _running_at_load = (state.job_operator, state.job_label) if running else None


@bpy.app.handlers.persistent
def _cancel_jobs_on_load(*_args) -> None:
    """A file was loaded: a result must never land in a different file than the one it was made
    for, so every job noted before the load ends, and the panel of the operator whose job it was
    says why (the operator itself ends without a word). Only those: a job started during the
    load (by another add-on's ``load_post`` handler that ran first, or the file's own scripts)
    is the loaded file's. After the load, not before: a file that cannot be read leaves the open
    one, and its jobs, as they were."""
    global _jobs_at_load, _running_at_load
    ended_jobs, ended = _jobs_at_load, _running_at_load
    _jobs_at_load, _running_at_load = [], None
    for job in ended_jobs:
        session.abandon(job, LOAD_REASON)
    state = _job_state()
    if ended is None or state is None:
        return
    operator, label = ended
    state.last_error = (f"{label or 'the Atelier job'}: cancelled because {LOAD_REASON}; "
                        "nothing of it was applied")
    state.last_error_operator = operator
    print(f"Atelier: {state.last_error}", flush=True)


@bpy.app.handlers.persistent
def _keep_jobs_after_a_failed_load(*_args) -> None:
    """The file could not be read: the open one stays, and so do its jobs."""
    global _jobs_at_load, _running_at_load
    _jobs_at_load, _running_at_load = [], None


# Blender's handlers for a load: before it, after it, after it failed (4.2 may lack the last).
_LOAD_HANDLERS = (("load_pre", _note_the_running_jobs), ("load_post", _cancel_jobs_on_load),
                  ("load_post_fail", _keep_jobs_after_a_failed_load))


def _job_state():
    """The session's job state (``WindowManager.atelier``), if a window manager exists."""
    wm = bpy.context.window_manager
    return getattr(wm, "atelier", None) if wm is not None else None


def _unload_idle_models() -> float:
    session.unload_if_idle(preferences.idle_seconds())
    return IDLE_CHECK_INTERVAL


classes = (ATELIER_OT_cancel_job, ATELIER_OT_free_memory)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    app_handlers.add(_LOAD_HANDLERS)
    bpy.app.timers.register(_unload_idle_models, first_interval=IDLE_CHECK_INTERVAL, persistent=True)
    atexit.register(session.shutdown)


def unregister() -> None:
    atexit.unregister(session.shutdown)
    # bpy 4.5 hangs at exit while a timer is registered, so every timer goes here.
    if bpy.app.timers.is_registered(_unload_idle_models):
        bpy.app.timers.unregister(_unload_idle_models)
    app_handlers.remove(_LOAD_HANDLERS)
    # Ends every job, Doctor included (it is a backend job), and stops the backend process.
    session.shutdown()
    _unregister_classes()
