"""Backend housekeeping: cancel the running job, free memory, and the handlers that stop jobs
on file load, unload idle models and stop the backend when Blender quits. (Doctor is a backend
job like any other: ``doctor.py``.)"""

from __future__ import annotations

import atexit

import bpy

from .. import preferences
from ..client import session

IDLE_CHECK_INTERVAL = 30.0  # seconds between idle checks; unloading is not urgent


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


@bpy.app.handlers.persistent
def _cancel_jobs_on_load(*_args) -> None:
    """A result must never land in a different file than the one it was made for."""
    session.abandon_all()


def _unload_idle_models() -> float:
    session.unload_if_idle(preferences.idle_seconds())
    return IDLE_CHECK_INTERVAL


classes = (ATELIER_OT_cancel_job, ATELIER_OT_free_memory)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.app.handlers.load_pre.append(_cancel_jobs_on_load)
    bpy.app.timers.register(_unload_idle_models, first_interval=IDLE_CHECK_INTERVAL, persistent=True)
    atexit.register(session.shutdown)


def unregister() -> None:
    atexit.unregister(session.shutdown)
    # bpy 4.5 hangs at exit while a timer is registered, so every timer goes here.
    if bpy.app.timers.is_registered(_unload_idle_models):
        bpy.app.timers.unregister(_unload_idle_models)
    if _cancel_jobs_on_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_cancel_jobs_on_load)
    # Ends every job, Doctor included (it is a backend job), and stops the backend process.
    session.shutdown()
    _unregister_classes()
