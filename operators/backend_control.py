"""Backend housekeeping: cancel the running job, Doctor, free memory, and the handlers that
stop jobs on file load, unload idle models and stop the backend when Blender quits."""

from __future__ import annotations

import atexit
import os
import subprocess
import time

import bpy

from .. import preferences
from ..client import session

DOCTOR_TIMEOUT = 300  # seconds; the first run imports torch and checks every model folder
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


class ATELIER_OT_backend_doctor(bpy.types.Operator):
    """Check the backend environment (Python, torch, device, models) and show what was found"""

    bl_idname = "atelier.backend_doctor"
    bl_label = "Doctor"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        problem = preferences.backend_problem()
        if problem:
            cls.poll_message_set(problem)
            return False
        if _doctor_process is not None:
            cls.poll_message_set("Doctor is running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        global _doctor_process
        config = preferences.backend_config(session.EXTENSION_DIR)
        command = [config.python, "-m", "backend", "doctor"]
        global _doctor_started
        _doctor_started = time.monotonic()
        try:
            _doctor_process = subprocess.Popen(
                command, cwd=config.cwd, env=_environment(dict(config.env)),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                encoding="utf-8", errors="replace")
        except OSError as exc:
            self.report({"ERROR"}, f"cannot run {config.python}: {exc}")
            return {"CANCELLED"}
        if bpy.app.background:
            report = _collect_doctor(wait=True)
            self.report({"INFO"} if _doctor_ok else {"ERROR"}, report.splitlines()[-1] if report else "")
            return {"FINISHED"}
        _set_report("Doctor is running…")
        bpy.app.timers.register(_poll_doctor, first_interval=0.5)
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


# ---------------------------------------------------------------------- doctor plumbing

_doctor_process: subprocess.Popen | None = None
_doctor_started = 0.0  # time.monotonic() when it started
_doctor_ok = False


def _environment(extra: dict) -> dict:
    env = dict(os.environ)
    env.update(extra)
    return env


def _set_report(text: str) -> None:
    prefs = preferences.addon_preferences()
    if prefs is not None:
        prefs.doctor_report = text


def _collect_doctor(wait: bool) -> str:
    """The finished Doctor's output, stored in the preferences; '' while it still runs."""
    global _doctor_process, _doctor_ok
    process = _doctor_process
    if process is None:
        return ""
    time_left = _doctor_started + DOCTOR_TIMEOUT - time.monotonic()
    if not wait and process.poll() is None and time_left > 0:
        return ""
    try:
        output, errors = process.communicate(timeout=max(0.01, time_left))
    except subprocess.TimeoutExpired:
        process.kill()
        output, errors = process.communicate()
        output += f"\nDoctor gave no answer within {DOCTOR_TIMEOUT} s"
    _doctor_process = None
    _doctor_ok = process.returncode == 0
    if not _doctor_ok:
        # The report is on stdout; library noise on stderr matters only when something broke.
        output += "\n" + "\n".join(errors.strip().splitlines()[-8:])
    verdict = "Backend OK" if _doctor_ok else f"Doctor failed (exit status {process.returncode})"
    report = f"{output.strip()}\n{verdict}".strip()
    _set_report(report)
    return report


def _stop_doctor() -> None:
    """End a Doctor still running (the extension is being disabled)."""
    global _doctor_process
    process, _doctor_process = _doctor_process, None
    if process is not None and process.poll() is None:
        process.kill()
        process.communicate()


def _poll_doctor() -> float | None:
    if _collect_doctor(wait=False):
        for window in bpy.context.window_manager.windows:
            for area in window.screen.areas:
                if area.type == "PREFERENCES":
                    area.tag_redraw()
        return None
    return 0.5 if _doctor_process is not None else None


# ---------------------------------------------------------------------- handlers


@bpy.app.handlers.persistent
def _cancel_jobs_on_load(*_args) -> None:
    """A result must never land in a different file than the one it was made for."""
    session.abandon_all()


def _unload_idle_models() -> float:
    session.unload_if_idle(preferences.idle_seconds())
    return IDLE_CHECK_INTERVAL


classes = (ATELIER_OT_cancel_job, ATELIER_OT_backend_doctor, ATELIER_OT_free_memory)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.app.handlers.load_pre.append(_cancel_jobs_on_load)
    bpy.app.timers.register(_unload_idle_models, first_interval=IDLE_CHECK_INTERVAL, persistent=True)
    atexit.register(session.shutdown)


def unregister() -> None:
    atexit.unregister(session.shutdown)
    # bpy 4.5 hangs at exit while a timer is registered, so every timer goes here.
    for timer in (_unload_idle_models, _poll_doctor):
        if bpy.app.timers.is_registered(timer):
            bpy.app.timers.unregister(timer)
    if _cancel_jobs_on_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_cancel_jobs_on_load)
    _stop_doctor()
    session.shutdown()
    _unregister_classes()
