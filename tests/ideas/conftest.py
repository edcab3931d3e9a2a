"""Fixtures for the scene-idea tests: hand-written idea documents, a tiny instruct model, jobs."""

import copy
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the backend package is imported as ``backend``, as it runs
    sys.path.insert(0, str(ROOT))

_NOOK = json.loads((Path(__file__).with_name("reading_nook.json")).read_text(encoding="utf-8"))


@pytest.fixture
def nook() -> dict:
    """A valid, hand-written idea using every primitive and light type (a fresh copy)."""
    return copy.deepcopy(_NOOK)


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory):
    """Folder of a tiny random-weight Qwen2 instruct model (built once per test run)."""
    import torch

    from backend.tiny_text_model import build_tiny_text_model

    torch.set_num_threads(1)  # tiny models gain nothing from threads on a shared CPU
    return build_tiny_text_model(tmp_path_factory.mktemp("tiny-text-model"))


@pytest.fixture
def make_job(tmp_path):
    """``make_job(**request_fields) -> (request, JobContext)`` on the CPU; events collected."""
    from backend import protocol
    from backend.job import JobContext
    from backend.model_cache import ModelCache

    cache = ModelCache()

    def make(**fields):
        fields.setdefault("id", "ideas-test")
        fields.setdefault("device", "cpu")
        fields.setdefault("seed", 0)
        request = protocol.IdeasRequest(**fields)
        events = []
        job = JobContext(request, cache, emit=events.append)
        job.events = events
        return request, job

    return make
