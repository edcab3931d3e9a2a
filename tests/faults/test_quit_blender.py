"""Blender quits while Atelier's jobs are under way (one running, two queued): Blender's exit ends
in a bounded time, the backend process is gone by then (checked by its pid), and no file is
left: Atelier's jobs folder is empty, and the TMPDIR given to Blender and its backend holds
nothing. Each session runs in a process of its own (``quit_blender_session.py``). (A backend
that does not stop when asked is terminated at Blender's exit: ``test_quit_crash.py``, whose
second Blender quits that way.)

Under the bpy module ``bpy.ops.wm.quit_blender()`` does not end the process (it asks the event
loop, which never runs, to quit): the interpreter's exit does, through the ``atexit`` handler
Atelier registers (``session.shutdown``), as a real Blender's exit does through the extension's
``unregister``.
"""

from __future__ import annotations

from killed_jobs import check_nothing_left
from quit_sessions import seconds_until_gone, start

# Seconds Blender's exit may take with jobs under way: the backend is asked to stop (a running
# job ends at its next step) and is terminated when it has not stopped within 5 s
# (``SubprocessTransport.stop``); generous for a loaded machine, far below "hangs".
QUIT_WITHIN = 30.0
GONE_WITH_BLENDER = 1.0  # seconds the backend may outlive Blender's exit: none, but for the poll


def test_quitting_with_jobs_under_way_leaves_no_backend_and_no_files(tiny_sd, tiny_marigold, tmp_path):
    session = start("quit", tmp_path / "session", tmp_path / "user", tiny_sd,
                    "--maps-model", str(tiny_marigold))
    report = session.wait_report()
    assert report["stages"] == ["running", "queued", "queued"] and report["ended"] == [], report
    session.quit()
    assert session.process.wait(timeout=QUIT_WITHIN) == 0, session.log()
    seconds_until_gone(report["backend_pid"], GONE_WITH_BLENDER)
    check_nothing_left(report["jobs_folder"], session.tmp)
