"""After its ``image`` event an ``early_pixels`` texture is not done: it can still fail or be
cancelled, and then ends with exactly one ``error`` and no result; the backend serves the next job.

One fault-armed backend for the module stops each early-pixels job right after its image event
(``fault_points``: ``image``), before the PNG is written; the test changes the world there
(a file-size limit, as on a full disk; a cancel) and lets it go on.
"""

from __future__ import annotations

import re
import resource
from pathlib import Path

import pytest
from fault_backend import FAULT_PAUSE_TIMES
from fault_points import pause_environment, resume, wait_paused

from backend.tasks.texture import EARLY_PIXELS_FILE

PAUSING_TESTS = 2  # the tests below that send an early-pixels job: each is paused once
FILE_SIZE_LIMIT = 64  # far smaller than the PNG
# One job's events, in order, when it fails after its image event.
FAILED_AFTER_IMAGE = re.compile(r"accepted( progress)+ image error")


class PausedBackend:
    """A fault-armed backend that stops every early-pixels job after its image event."""

    def __init__(self, start_backend, folder: Path, tiny_sd: Path) -> None:
        self.pause_file, self.output, self.model = folder / "paused", folder / "out", tiny_sd
        self.backend = start_backend(env={**pause_environment("image", self.pause_file),
                                          FAULT_PAUSE_TIMES: str(PAUSING_TESTS)}, faults=True)
        self.jobs = 0

    def request(self, **fields) -> dict:
        self.jobs += 1
        return {"type": "texture", "id": f"early-{self.jobs}", "prompt": "weathered red bricks",
                "output_dir": str(self.output), "model": str(self.model), "width": 64, "height": 64,
                "steps": 2, "seed": 7, **fields}

    def paused_after_image(self) -> dict:
        """Send an early-pixels job and wait until it stands after its image event."""
        request = self.request(early_pixels=True)
        self.backend.send(request)
        assert wait_paused(self.pause_file) == self.backend.proc.pid
        return request

    def serves_the_next_job(self) -> None:
        final = self.backend.request(self.request())
        assert final["type"] == "result", final
        assert self.backend.proc.poll() is None


@pytest.fixture(scope="module")
def paused(start_backend, tmp_path_factory, tiny_sd) -> PausedBackend:
    return PausedBackend(start_backend, tmp_path_factory.mktemp("early-pixels-faults"), tiny_sd)


def kinds(events: list[dict]) -> str:
    return " ".join(event["type"] for event in events)


def test_a_png_that_cannot_be_written_after_the_image_event_is_one_write_failed(paused):
    request = paused.paused_after_image()
    pid = paused.backend.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, hard))  # the PNG's write stops part way
    try:
        resume(paused.pause_file)
        events = paused.backend.events_for(request["id"])
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
    assert FAILED_AFTER_IMAGE.fullmatch(kinds(events)), kinds(events)
    folder = paused.output / request["id"]
    error = events[-1]
    assert error["code"] == "write_failed", error
    assert f"cannot write {folder / 'base_color.png'}: File too large" in error["message"], error
    # The raw pixels were written whole before; the partly written PNG is gone.
    assert sorted(path.name for path in folder.iterdir()) == [EARLY_PIXELS_FILE]
    paused.serves_the_next_job()


def test_a_cancel_after_the_image_event_ends_the_job_cancelled_before_its_png(paused):
    request = paused.paused_after_image()
    paused.backend.send({"type": "cancel", "id": f"cancel-{request['id']}", "job": request["id"]})
    # Lines are handled in order: once the ping is answered, the cancel has reached the job.
    paused.backend.send({"type": "ping", "id": "after-cancel"})
    while (event := paused.backend.next_event()) != {"type": "pong", "id": "after-cancel"}:
        assert event is not None, paused.backend.log()
        paused.backend.stash.append(event)
    resume(paused.pause_file)
    events = paused.backend.events_for(request["id"])
    assert FAILED_AFTER_IMAGE.fullmatch(kinds(events)), kinds(events)
    assert events[-1]["code"] == "cancelled", events[-1]
    assert not (paused.output / request["id"] / "base_color.png").exists()
    paused.serves_the_next_job()
