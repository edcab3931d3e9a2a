"""Hand-over tests: Blender's backend stopped after each early-pixels job's image event, and
the fault tests' helpers for driving an operator on the UI's path (``tests/faults/blend_jobs``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fault_backend import FAULT_PAUSE_TIMES
from fault_points import fault_python, pause_environment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "faults"))

EVERY_JOB = 1000  # pauses per backend: every early-pixels job of the module stops after its image


@pytest.fixture(scope="module")
def paused_backend(backend_env, addon, tmp_path_factory):
    """Blender's backend started through the fault launcher, stopping every early-pixels job
    after its image event; yields the pause file (``fault_points.wait_paused`` / ``resume``).
    Jobs that do not ask for early pixels (the blocking path) never stop."""
    folder = tmp_path_factory.mktemp("early-material")
    pause_file = folder / "paused"
    session = addon.client.session
    with pytest.MonkeyPatch.context() as patch:
        session.shutdown()
        patch.setenv("ATELIER_PYTHON", fault_python(folder))
        armed = {**pause_environment("image", pause_file), FAULT_PAUSE_TIMES: str(EVERY_JOB)}
        for name, value in armed.items():
            patch.setenv(name, value)
        yield pause_file
        session.shutdown()
