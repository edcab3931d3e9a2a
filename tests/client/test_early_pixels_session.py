"""The client's side of early pixels (``session.drain``, ``Job.early``), against the real backend
behind a pipe that can change what it hands over (``image_event_tamper.py``).

A job that asked gets its pixels checked into ``job.early``: the file in its own folder, pixel-
identical to the PNG of the result that follows. An ``image`` event that fails the checks (a
file outside the job's folder, a size its file does not hold, another format, two files) is
dropped and the result still decides the job; so is one for a job that did not ask. One backend
serves the module.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
from blender_helpers import run_job
from PIL import Image

TAMPER = Path(__file__).resolve().parent / "image_event_tamper.py"
SIZE = 64


class Tampering:
    """The session's backend behind the tamper pipe; ``job(plan, **fields)`` runs one texture."""

    def __init__(self, addon, model: Path, folder: Path) -> None:
        from image_event_tamper import PLAN

        self.session, self.protocol, self.model = addon.client.session, addon.core.protocol, model
        self.plan_file, self.output = folder / "plan.json", folder / "jobs"
        python = folder / "tamper-python"  # what the client runs as ``<python> -m backend serve``
        python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{TAMPER}" "$@"\n')
        python.chmod(python.stat().st_mode | stat.S_IXUSR)
        # One torch thread as in the other tests' backends, so results never depend on the order.
        env = {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", PLAN: str(self.plan_file)}
        self.client = self.session.client_for(addon.client.BackendConfig(
            python=str(python), cwd=self.session.EXTENSION_DIR, env=tuple(sorted(env.items()))))

    def job(self, plan: dict, **fields):
        """A finished 64 px texture job of the tiny model, its pipe changing what ``plan`` says."""
        self.plan_file.write_text(json.dumps(plan))
        request = self.protocol.TextureRequest(
            id=self.session.new_request_id(), prompt="weathered red bricks", model=str(self.model),
            width=SIZE, height=SIZE, steps=2, seed=7, device="cpu", output_dir=str(self.output), **fields)
        job = run_job(self.session, self.client, request)
        assert job.error is None, job.error
        png = job.result.base_color
        assert png.suffix == ".png" and png.is_relative_to(job.folder.path)
        return job


def raw_file(job) -> Path:
    """Where the backend writes a job's early pixels: beside its PNG."""
    return job.result.base_color.with_name("base_color.rgba")


@pytest.fixture(scope="module")
def tampering(addon, tiny_sd_model, tmp_path_factory):
    tamper = Tampering(addon, tiny_sd_model, tmp_path_factory.mktemp("early-pixels-session"))
    yield tamper
    tamper.session.shutdown()  # the next test's client starts its own backend


def png_rgba(path: Path) -> bytes:
    return Image.open(path).convert("RGBA").tobytes()


def test_a_job_that_asked_keeps_its_checked_early_pixels(tampering):
    job = tampering.job({}, early_pixels=True)
    early = job.early
    assert (early.id, early.width, early.height) == (job.id, SIZE, SIZE)
    assert early.pixels == raw_file(job)
    assert early.pixels.read_bytes() == png_rgba(job.result.base_color)
    tampering.session.release(job.id)


@pytest.mark.parametrize("change", ["outside", "size", "format", "two_files"])
def test_a_malformed_image_event_is_dropped_and_the_result_still_applies(tampering, change, tmp_path):
    outside = tmp_path / "elsewhere.rgba"  # the right size, but not the job's
    outside.write_bytes(bytes(SIZE * SIZE * 4))
    job = tampering.job({"image": change, "outside": str(outside)}, early_pixels=True)
    assert job.early is None
    assert png_rgba(job.result.base_color) == raw_file(job).read_bytes()  # the backend did hand them over
    assert outside.read_bytes() == bytes(SIZE * SIZE * 4)  # never touched
    tampering.session.release(job.id)


def test_a_job_that_did_not_ask_ignores_an_image_event(tampering):
    job = tampering.job({"ask": True})
    assert not job.request.early_pixels
    assert raw_file(job).is_file()  # the backend handed pixels over all the same
    assert job.early is None
    tampering.session.release(job.id)
