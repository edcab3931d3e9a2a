"""Blender crashes (SIGKILL) with Atelier's jobs under way: the backend exits by itself because its
stdin closed, and the next Blender session removes the job folders the dead one left, at its
first job (its jobs' folders and the folders of input files its operators wrote), while the
folders of a second Blender that still runs are left alone. That second
Blender then quits while its backend is stuck (building a model, which no cancel interrupts):
its exit is bounded, the backend is terminated rather than left to end by itself, and its
folders go. Each session is a process of its own (``quit_blender_session.py``) sharing one
Blender user folder."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from fault_backend import FAULT_PAUSE_AT, FAULT_PAUSE_FILE
from fault_points import fault_python
from killed_jobs import check_nothing_left
from quit_sessions import left_in_tmp_after_crash, seconds_until_gone, start

# Seconds from Blender's death to its backend's exit: the backend reads end of file at once,
# cancels the running job (it stops at its next step) and exits (0.02 s measured with a job at a
# step); a job inside a step that cannot be interrupted (a model load) holds it for at most
# ``backend.server.SHUTDOWN_GRACE_S`` (10 s), the rest is slack for a loaded box.
BACKEND_EXITS_WITHIN = 12.0
QUIT_WITHIN = 30.0  # seconds for a session's own exit, terminating its stuck backend included


def test_a_crashed_sessions_backend_exits_and_the_next_session_removes_its_folders(addon, tiny_sd, tmp_path):
    lock_name = addon.client.job_folder.LOCK_NAME
    user = tmp_path / "user"  # one Blender user folder: one jobs folder for every session
    crashed = start("stay", tmp_path / "crashed", user, tiny_sd)
    # A second Blender still running, its backend stuck while building the model: its jobs stay
    # under way (folders locked) for as long as the test needs them.
    pause_file = tmp_path / "pause"
    live = start("stay", tmp_path / "live", user, tiny_sd, "--until", "paused",
                 env={"ATELIER_PYTHON": fault_python(tmp_path), FAULT_PAUSE_AT: "load",
                      FAULT_PAUSE_FILE: str(pause_file)})
    dead, running = crashed.wait_report(), live.wait_report()
    assert dead["stages"] == ["running", "queued"] and running["stages"] == ["running", "queued"]

    os.kill(crashed.process.pid, signal.SIGKILL)
    crashed.process.wait()
    seconds = seconds_until_gone(dead["backend_pid"], BACKEND_EXITS_WITHIN)
    print(f"the backend exited {seconds:.2f} s after Blender was killed")
    left = dead["job_folders"] + dead["input_folders"]
    assert all(Path(folder, lock_name).is_file() for folder in left)  # nobody removed them
    assert left_in_tmp_after_crash(crashed.tmp) == []

    nxt = start("one-job", tmp_path / "next", user, tiny_sd)
    assert nxt.wait_report()["outcome"] == ["FINISHED"], nxt.log()
    assert nxt.process.wait(timeout=QUIT_WITHIN) == 0, nxt.log()
    jobs_folder = Path(dead["jobs_folder"])
    alive = running["job_folders"] + running["input_folders"]  # the live session's, input files too
    assert sorted(jobs_folder.iterdir()) == sorted(Path(folder) for folder in alive)
    assert all(Path(folder, lock_name).is_file() for folder in alive)

    live.process.stdin.close()  # the second Blender quits too, and takes its folders with it
    assert live.process.wait(timeout=QUIT_WITHIN) == 0, live.log()
    # Not left to end by itself (its own grace for a job that does not stop is 10 s): gone now.
    seconds_until_gone(running["backend_pid"], 1.0)
    check_nothing_left(str(jobs_folder), live.tmp)
