"""Blender sessions in processes of their own (``quit_blender_session.py``) for the quit and crash
tests: started with a user folder, a private TMPDIR and the tiny models; their report read once
the jobs are under way; their backend's pid followed until it is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fault_points import alive

SCRIPT = Path(__file__).resolve().parent.parent / "quit_blender_session.py"
MARKER = "ATELIER-SESSION "
STARTS_WITHIN = 180.0  # seconds for a session to import bpy, start its backend and get its jobs going


@dataclass
class BlenderSession:
    """A running ``quit_blender_session.py``, its output files and its report."""

    process: subprocess.Popen
    output: Path
    tmp: Path  # its TMPDIR, and its backend's
    report: dict | None = None

    def wait_report(self) -> dict:
        """``ATELIER-SESSION``'s JSON, once printed (the jobs are under way)."""
        deadline = time.monotonic() + STARTS_WITHIN
        while self.report is None:
            lines = [line for line in self.output.read_text(errors="replace").splitlines()
                     if line.startswith(MARKER)]
            if lines:
                self.report = json.loads(lines[-1][len(MARKER):])
            else:
                assert self.process.poll() is None, f"the session ended early: {self.log()}"
                assert time.monotonic() < deadline, f"no report from the session: {self.log()}"
                time.sleep(0.05)
        return self.report

    def quit(self) -> None:
        """Tell a ``quit`` session to quit now (it waits for this line once it has reported)."""
        self.process.stdin.write(b"quit\n")
        self.process.stdin.flush()

    def log(self) -> str:
        return self.output.read_text(errors="replace")[-3000:]


def start(how: str, folder: Path, user: Path, model: Path, *args: str, env: dict | None = None,
          ) -> BlenderSession:
    """Start a session (``quit_blender_session.py HOW``) with Blender user folder ``user``,
    the texture model ``model`` on the CPU, its own TMPDIR, and scratch files in ``folder``."""
    folder.mkdir(parents=True)
    tmp = folder / "tmp"
    tmp.mkdir()
    variables = dict(os.environ, BLENDER_USER_RESOURCES=str(user), TMPDIR=str(tmp), HF_HUB_OFFLINE="1",
                     ATELIER_PYTHON=sys.executable, ATELIER_TEXTURE_MODEL=str(model), ATELIER_DEVICE="cpu",
                     OMP_NUM_THREADS="1")
    variables.update(env or {})
    output = folder / "output.txt"
    with open(output, "w") as log:
        process = subprocess.Popen([sys.executable, str(SCRIPT), how, str(folder), *args], env=variables,
                                   stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
    return BlenderSession(process, output, tmp)


def seconds_until_gone(pid: int, limit: float) -> float:
    """Seconds until process ``pid`` is gone (a zombie counts as gone); fails past ``limit``."""
    started = time.monotonic()
    while alive(pid):
        waited = time.monotonic() - started
        assert waited < limit, f"process {pid} still runs {waited:.1f} s on"
        time.sleep(0.01)
    return time.monotonic() - started


def left_in_tmp_after_crash(tmp: Path) -> list[str]:
    """What lies in a killed session's TMPDIR but Blender's own session folder (``blender_*``,
    which only Blender's exit removes) and torch's empty cache folder (``torchinductor_<user>``,
    made by ``import diffusers`` in every process)."""
    return sorted(str(path) for path in tmp.rglob("*")
                  if not (path.parent == tmp and path.is_dir() and path.name.startswith("blender_"))
                  and not path.relative_to(tmp).parts[0].startswith("blender_")
                  and not (path.parent == tmp and path.is_dir() and path.name.startswith("torchinductor_")))
