"""Stopping the real backend at a chosen point of a job (``fault_backend.py``), from a test.

``pause_environment(point, pause_file)`` arms the point for a backend started with that
environment: through ``served_backend.Backend(..., faults=True)`` for protocol tests, or through
Blender with ``ATELIER_PYTHON`` set to ``fault_python(folder)``, which makes Blender's own
``<python> -m backend serve`` start the launcher instead. ``wait_paused`` returns the backend's
pid once it stands at the point; the test then kills it there, or changes the world and calls
``resume``. ``die_environment`` makes the backend kill itself at the point instead (nothing it
did not send before is sent); ``wait_reaped`` checks that the client, the killed backend's parent,
collected it.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

from fault_backend import FAULT_DIE_AT, FAULT_PAUSE_AT, FAULT_PAUSE_FILE

LAUNCHER = Path(__file__).resolve().parent / "fault_backend.py"
# The points a job passes (see fault_backend.py): while a model is built, after denoising step
# K, with half of the N-th file written, after an early_pixels texture's image event, after the
# result was sent.
POINTS = ("load", "step:{step}", "write:{file}", "image", "result")


def pause_environment(point: str, pause_file: Path) -> dict:
    """Environment variables that stop a fault-armed backend at ``point``."""
    return {FAULT_PAUSE_AT: point, FAULT_PAUSE_FILE: str(pause_file)}


def die_environment(point: str, pause_file: Path) -> dict:
    """Environment variables that make a fault-armed backend SIGKILL itself at ``point`` (its
    pid goes to ``pause_file`` first); the backends after it run on."""
    return {FAULT_DIE_AT: point, FAULT_PAUSE_FILE: str(pause_file)}


def fault_python(folder: Path) -> str:
    """An executable that Blender can use as the backend Python: ``<it> -m backend serve`` runs
    ``fault_backend.py serve`` with this interpreter, so the faults in the environment are armed."""
    script = folder / "fault-python"
    script.write_text(f'#!/bin/sh\n[ "$1" = "-m" ] && [ "$2" = "backend" ] && shift 2 && '
                      f'exec "{sys.executable}" "{LAUNCHER}" "$@"\nexec "{sys.executable}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def wait_paused(pause_file: Path, timeout: float = 120.0) -> int:
    """The pid of the backend once it stands at its pause point."""
    deadline = time.monotonic() + timeout
    while not pause_file.exists():
        assert time.monotonic() < deadline, f"the backend never reached its pause point ({pause_file})"
        time.sleep(0.01)
    pid, _point = pause_file.read_text().split(" ", 1)
    return int(pid)


def resume(pause_file: Path) -> None:
    """Let a paused backend go on."""
    pause_file.with_name(pause_file.name + ".resume").touch()


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie counts as gone: for a process this one is not
    the parent of, which it cannot reap; for its own children see ``wait_reaped``)."""
    try:
        with open(f"/proc/{pid}/stat") as status:
            return status.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_reaped(pid: int, timeout: float = 5.0) -> bool:
    """Whether this process's child ``pid`` was reaped (waited for, so no zombie of it is left)
    within ``timeout`` seconds: ``/proc/<pid>`` is gone."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
