"""Killing Blender's own backend at a drawn point of a job (``fault_armed_backend``), and what
must hold after: the job's error says the backend stopped and what to do, within 2 s of the
kill; the scene is as it was; no file of the job is left in Atelier's jobs folder and none
anywhere else (the backend gets a private TMPDIR); the killed process was reaped by the client
(its parent: no zombie is left); the next job, on a fresh backend, succeeds.

A backend killed after its result was sent must not cost the result. A killer thread polling
for the pause would mostly strike after a blocking operator has applied it, so there the
backend kills itself right after the result line (``fault_backend``'s ``FAULT_DIE_AT``): the
end of its output always follows the result, and Blender applies a result from a dead backend.
On the modal path the test orders it itself: the tick after the kill reads the result.

Kill points are drawn with a fixed seed (``draw``) so a failure names a point that can be run
again: ``load``, ``step:K``, ``write:N`` and ``result`` (``fault_points.POINTS``).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from pathlib import Path

from blend_jobs import file_state
from fault_backend import FAULT_DIE_AT, FAULT_PAUSE_AT
from fault_points import alive, die_environment, wait_paused, wait_reaped
from modal_events import TIMER
from scene_state import scene_state

SEED = 1717
REPORTED_WITHIN = 2.0  # seconds from the kill to the job's error: the spec, not a measurement
# What the error of a killed job says: why, and what to do.
STOPPED = "the backend process exited (status -9, killed by SIGKILL)"
WHAT_TO_DO = "run it again: a fresh backend starts"


def draw(kind: str, *, steps: int, files: int, points=("load", "step", "write", "result"),
         count: int | None = None, first_file: int = 1) -> list[str]:
    """Kill points for job kind ``kind``: one of each sort in ``points`` (``count`` of them drawn
    when given), with the step and the file drawn (``random.Random`` seeded with ``SEED`` and
    the kind, so the test ids never change). A step is one of 1 .. ``steps`` - 1: after the last
    one the job is no longer mid-denoise. A file is one of ``first_file`` .. ``files``."""
    rng = random.Random(f"{SEED}:{kind}")
    if count is not None:
        points = rng.sample(list(points), count)
    drawn = []
    for point in points:
        if point == "step":
            point = f"step:{rng.randint(1, steps - 1)}"
        elif point == "write":
            point = f"write:{rng.randint(first_file, files)}"
        drawn.append(point)
    return drawn


def blender_state(bpy) -> dict:
    """What a killed job must leave as it was: ``file_state`` (datablocks, UV maps, material
    slots, history) and ``scene_state`` (world, camera, ideas), with node groups and palettes."""
    return {**scene_state(bpy), **file_state(bpy),
            "node_groups": sorted(g.name for g in bpy.data.node_groups),
            "palettes": sorted(p.name for p in bpy.data.palettes)}


def kill_paused(pause_file: Path, monkeypatch) -> tuple[int, float]:
    """SIGKILL the backend standing at its pause point; its pid and ``time.monotonic()`` at the
    kill. Disarmed first: the fresh backend the session starts next runs without the pause."""
    pid = wait_paused(pause_file)
    monkeypatch.delenv(FAULT_PAUSE_AT, raising=False)
    killed_at = time.monotonic()
    with contextlib.suppress(ProcessLookupError):  # one armed with ``die_at`` is dead already
        os.kill(pid, signal.SIGKILL)
    return pid, killed_at


class Killer:
    """``kill_paused`` from a thread (a blocking operator holds the main thread meanwhile)."""

    def __init__(self, pause_file: Path, monkeypatch) -> None:
        self.pause_file = pause_file
        self.pid: int | None = None
        self.killed_at: float | None = None
        self._thread = threading.Thread(target=self._kill, args=(monkeypatch,), name="killer", daemon=True)
        self._thread.start()

    def _kill(self, monkeypatch) -> None:
        self.pid, self.killed_at = kill_paused(self.pause_file, monkeypatch)

    def join(self) -> int:
        """The killed pid, once the kill is done."""
        self._thread.join(timeout=150)
        assert self.pid is not None, f"the backend never reached {self.pause_file.name}'s point"
        return self.pid


def tick_and_kill(probe, context, pause_file: Path, monkeypatch, limit: float = 150.0):
    """Start ``probe`` (a stand-in for the running operator, ``blend_jobs.operator_probe``) and
    tick it as the modal timer would, killing the backend (``kill_paused``) at the tick that
    finds it at its pause point. Returns the outcome, the killed pid and the seconds from the
    kill to the tick that ended the operator (None when it ended before the kill: then the
    backend is killed after, at its pause point)."""
    assert probe._start(context) is not None, probe.reports
    deadline = time.monotonic() + limit
    outcome, pid, killed_at = {"PASS_THROUGH"}, None, None
    while outcome == {"PASS_THROUGH"}:
        assert time.monotonic() < deadline, f"the operator did not end: {probe.reports}"
        time.sleep(0.02)
        if pid is None and pause_file.exists():  # looked for just before the tick that follows
            pid, killed_at = kill_paused(pause_file, monkeypatch)
        outcome = probe.modal(context, TIMER)
    if pid is None:
        return outcome, kill_paused(pause_file, monkeypatch)[0], None
    return outcome, pid, time.monotonic() - killed_at


def check_reaped(pid: int) -> None:
    """The killed backend was reaped by Blender's client, its parent, once it had noticed the
    death (a job's error, or the next job's start): no process and no zombie of it is left."""
    assert wait_reaped(pid), f"the killed backend {pid} was not reaped (still running, or a zombie)"


def die_at(arm, point: str, monkeypatch) -> Path:
    """Arm (``arm``: the ``fault_armed_backend`` fixture) the next backend to SIGKILL itself at
    ``point`` (``FAULT_DIE_AT``); the fresh backend after it runs on. Its pause file."""
    pause_file = arm(point)
    monkeypatch.delenv(FAULT_PAUSE_AT)
    for name, value in die_environment(point, pause_file).items():
        monkeypatch.setenv(name, value)
    return pause_file


def check_nothing_left(jobs_folder: str, backend_tmp: Path) -> None:
    """No job folder or file of the ended job in Atelier's jobs folder, nothing in the
    backend's private TMPDIR but torch's own cache folder, empty (``import diffusers`` makes
    ``torchinductor_<user>`` there in every process; it holds nothing of a job)."""
    assert os.listdir(jobs_folder) == [], f"left in the jobs folder: {os.listdir(jobs_folder)}"
    left = [path for path in backend_tmp.rglob("*")
            if not (path.parent == backend_tmp and path.name.startswith("torchinductor_") and path.is_dir())]
    assert left == [], f"left in the backend's TMPDIR: {left}"


def private_tmp(monkeypatch, tmp_path: Path) -> Path:
    """A TMPDIR of the backend's own (set before it starts), to prove it writes nothing outside
    its job folder."""
    folder = tmp_path / "backend-tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def killed_blocking(bpy, addon, arm, monkeypatch, tmp_path: Path, point: str,
                    run) -> tuple[set[str], str, int]:
    """Run ``run()`` (a blocking operator call) on a backend armed at ``point`` (``arm``: the
    ``fault_armed_backend`` fixture) and killed there. Killed after its result (it kills itself
    right after the result line, ``die_at``), the call must finish, with the backend dead by
    the time it returns: the result of a dead backend was applied. Killed anywhere else, it
    must fail, saying the backend stopped and what to do, within 2 s of the kill, with the
    scene as it was, and the client must have reaped the killed process. Either way nothing is
    left in the jobs folder or the backend's TMPDIR. Returns the outcome, a description of the
    case for the caller's assertions and the killed pid (``check_reaped`` it after the next job:
    a backend that died after its last answer is reaped when the next job starts one anew)."""
    jobs_folder = addon.preferences.user_folder("jobs")
    backend_tmp = private_tmp(monkeypatch, tmp_path)
    before = blender_state(bpy)
    if point == "result":
        pause_file = die_at(arm, point, monkeypatch)
        outcome, message, _returned_at = run_blocking(run)
        pid = wait_paused(pause_file, timeout=5)
        monkeypatch.delenv(FAULT_DIE_AT)
        case = f"seed {SEED}, died at {point}: {outcome} {message!r}"
        assert outcome == {"FINISHED"} and not alive(pid), case  # nothing lost to the death
    else:
        killer = Killer(arm(point), monkeypatch)
        outcome, message, returned_at = run_blocking(run)
        pid = killer.join()
        case = f"seed {SEED}, killed at {point}: {outcome} {message!r}"
        assert outcome == {"CANCELLED"}, case
        assert STOPPED in message and WHAT_TO_DO in message, case
        assert returned_at - killer.killed_at < REPORTED_WITHIN, case
        assert blender_state(bpy) == before, case
        check_reaped(pid)
    check_nothing_left(jobs_folder, backend_tmp)
    return outcome, case, pid


def killed_modal(bpy, addon, arm, monkeypatch, tmp_path: Path, point: str,
                 probe) -> tuple[set[str], str, int]:
    """``killed_blocking`` on the UI's path: ``probe`` (``blend_jobs.operator_probe``) is started
    and ticked, the backend killed at its pause point before the next tick, so the operator
    ends after the kill: finished (killed after its result, which the ticks after the kill
    applied) or failed, reported within 2 s of the kill. Returns what ``killed_blocking`` does."""
    jobs_folder = addon.preferences.user_folder("jobs")
    backend_tmp = private_tmp(monkeypatch, tmp_path)
    before = blender_state(bpy)
    # After the result, the backend dies before its result line leaves (``die_at``): a pause
    # there would be noticed a moment after the line, and a tick in between could apply first.
    dies = point == "result"
    pause_file = die_at(arm, point, monkeypatch) if dies else arm(point)
    outcome, pid, detected = tick_and_kill(probe, bpy.context, pause_file, monkeypatch)
    case = f"seed {SEED}, killed at {point}: {outcome} {probe.reports}, ended {detected} s after the kill"
    assert dies or detected is not None, case  # the kill came first: any result was applied after it
    if point == "result":
        assert outcome == {"FINISHED"}, case
    else:
        assert outcome == {"CANCELLED"}, case
        ((kind, message),) = probe.reports
        assert kind == {"ERROR"} and STOPPED in message and WHAT_TO_DO in message, case
        assert detected < REPORTED_WITHIN, case
        assert blender_state(bpy) == before, case
        check_reaped(pid)
    check_nothing_left(jobs_folder, backend_tmp)
    return outcome, case, pid


def run_blocking(run) -> tuple[set[str], str, float]:
    """Call ``run()`` (a blocking operator call): its outcome, its error text ('' when none)
    and ``time.monotonic()`` when it returned."""
    try:
        outcome, message = run(), ""
    except RuntimeError as exc:  # an operator that reported an error
        outcome, message = {"CANCELLED"}, str(exc)
    return outcome, message, time.monotonic()
