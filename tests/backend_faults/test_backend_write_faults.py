"""A job whose files cannot be written ends with ``write_failed``, and the backend goes on.

The real backend is stopped after the first denoising step of a job (``fault_points``); the
test then takes away what writing needs, and lets it go on: a file-size limit (as on a full
disk, the write fails part way), then, on the next job, a read-only output folder. Each job
must end ``write_failed`` naming the file or folder and the system's reason, and leave no file
behind; the same backend process must serve the job after them once the fault is gone. Two
more cases: the output folder removed mid-job (not made again), and a job folder that stops
being writable between a job's first and second file (the first stays for the client). The
backend runs without root's power to ignore permissions (``FAULT_UNPRIVILEGED``), so a
read-only folder stops it under root too.
"""

from __future__ import annotations

import resource
import shutil
from pathlib import Path

import pytest
from fault_backend import FAULT_PAUSE_TIMES, FAULT_UNPRIVILEGED, PERMISSION_OVERRIDES
from fault_points import pause_environment, resume, wait_paused

# Jobs that write files, by what they write: a texture PNG, maps PNGs (classic filters and a
# Marigold model), and an edit's new version through ``image_edit.write_picture`` at 8 and 16 bits.
WRITERS = ("texture", "maps-classic", "maps-marigold", "refine-8bit", "upscale-16bit")
# Smaller than any result file (each carries its provenance record).
FILE_SIZE_LIMIT = 64


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def permission_overrides(pid: int) -> int:
    """The permission-override capabilities process ``pid`` holds, as a bit mask (0: none)."""
    status = Path(f"/proc/{pid}/status").read_text()
    effective = int(next(line for line in status.splitlines() if line.startswith("CapEff:")).split()[1], 16)
    return effective & sum(1 << bit for bit in PERMISSION_OVERRIDES.values())


class PausedJobs:
    """An unprivileged fault-armed backend that stops after the first denoising step of each
    of its first two jobs."""

    def __init__(self, start_backend, pause_file: Path) -> None:
        self.pause_file = pause_file
        self.backend = start_backend(env={**pause_environment("step:1", pause_file), FAULT_PAUSE_TIMES: "2",
                                          FAULT_UNPRIVILEGED: "1"}, faults=True)
        self.pid = self.backend.proc.pid

    def paused(self, request: dict) -> None:
        """Send ``request`` and wait until the backend stands after its first step."""
        self.backend.send(request)
        assert wait_paused(self.pause_file) == self.pid
        assert permission_overrides(self.pid) == 0, "the backend still ignores file permissions"

    def go_on(self, request: dict) -> dict:
        """Resume the paused job; its final event."""
        resume(self.pause_file)
        return self.backend.events_for(request["id"])[-1]


@pytest.mark.parametrize("writer", WRITERS)
def test_writes_stopped_mid_job_fail_cleanly_and_the_backend_goes_on(start_backend, job_request, writer,
                                                                     tmp_path):
    jobs = PausedJobs(start_backend, tmp_path / "paused")
    output = tmp_path / "out"

    request = job_request(writer)
    jobs.paused(request)
    soft, hard = resource.prlimit(jobs.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(jobs.pid, resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, hard))  # writes stop part way
    try:
        error = jobs.go_on(request)
    finally:
        resource.prlimit(jobs.pid, resource.RLIMIT_FSIZE, (soft, hard))
    assert error["type"] == "error" and error["code"] == "write_failed", error
    assert f"cannot write {output / request['id']}/" in error["message"], error
    assert "File too large" in error["message"] and "free space" in error["hint"], error
    assert files_under(output) == [], "a partly written file was left behind"

    # The job's folder is made when its first file is written: here it cannot be.
    request = job_request(writer)
    jobs.paused(request)
    output.chmod(0o500)
    try:
        error = jobs.go_on(request)
    finally:
        output.chmod(0o700)
    assert error["type"] == "error" and error["code"] == "write_failed", error
    assert f"the output folder {output} was removed or cannot be written" in error["message"], error
    assert "writable" in error["hint"], error
    assert files_under(output) == []

    final = jobs.backend.request(job_request(writer))
    assert final["type"] == "result", final
    assert jobs.backend.proc.pid == jobs.pid and jobs.backend.proc.poll() is None
    assert all(Path(file["path"]).stat().st_size > FILE_SIZE_LIMIT for file in final["files"]), final


def test_an_output_folder_removed_mid_job_fails_and_is_not_made_again(start_backend, job_request, tmp_path):
    """The client removed the output folder while the job ran (it gave the job up): the job
    ends ``write_failed`` naming the folder, which stays gone, and the backend goes on."""
    pause_file, output = tmp_path / "paused", tmp_path / "out"
    backend = start_backend(env=pause_environment("step:1", pause_file), faults=True)
    request = job_request("texture")
    backend.send(request)
    assert wait_paused(pause_file) == backend.proc.pid
    shutil.rmtree(output)
    resume(pause_file)
    error = backend.events_for(request["id"])[-1]
    assert error["type"] == "error" and error["code"] == "write_failed", error
    assert f"the output folder {output} was removed or cannot be written" in error["message"], error
    assert not output.exists(), "the removed output folder was made again"

    final = backend.request(job_request("texture"))  # a new job checks (and makes) it again
    assert final["type"] == "result", final
    assert backend.proc.poll() is None


def test_a_job_folder_made_read_only_after_its_first_file_fails_on_the_second(start_backend, job_request,
                                                                              tmp_path):
    """Two maps: the first is written whole, then the job's own folder stops being writable.
    The job ends ``write_failed`` naming the second file; the first stays in the job folder for
    the client, which removes the folder of a failed job; the backend goes on."""
    pause_file = tmp_path / "paused"
    backend = start_backend(env={**pause_environment("write:2", pause_file), FAULT_UNPRIVILEGED: "1"},
                            faults=True)
    request = job_request("maps-classic", maps=["normal", "height"])
    folder = tmp_path / "out" / request["id"]
    backend.send(request)
    assert wait_paused(pause_file) == backend.proc.pid
    assert permission_overrides(backend.proc.pid) == 0, "the backend still ignores file permissions"
    (folder / "height.png").unlink()  # the half written by the pause; the real write comes next
    folder.chmod(0o500)
    try:
        resume(pause_file)
        error = backend.events_for(request["id"])[-1]
    finally:
        folder.chmod(0o700)
    assert error["type"] == "error" and error["code"] == "write_failed", error
    assert f"cannot write {folder / 'height.png'}: Permission denied" in error["message"], error
    assert "writable" in error["hint"], error
    assert files_under(folder) == [folder / "normal.png"], "only the first, whole file is left"

    final = backend.request(job_request("maps-classic"))
    assert final["type"] == "result", final
    assert backend.proc.poll() is None
