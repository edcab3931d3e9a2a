"""Fixtures for the colour-scheme tests: a tiny instruct model and backend job contexts."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the backend package is imported as ``backend``, as it runs
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared CPU threads only wait on each other."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory):
    """Folder of a tiny random-weight Qwen2 instruct model (built once per session)."""
    from backend.tiny_text_model import build_tiny_text_model

    return build_tiny_text_model(tmp_path_factory.mktemp("tiny-text-model"))


@pytest.fixture(scope="session")
def model_cache():
    from backend.model_cache import ModelCache

    return ModelCache()


@pytest.fixture
def make_job(model_cache, tmp_path):
    """``make_job(request_fields) -> (request, JobContext)`` on the CPU; events collected."""
    from backend import protocol
    from backend.job import JobContext

    def make(**fields):
        fields.setdefault("id", "palette-test")
        fields.setdefault("device", "cpu")
        fields.setdefault("output_dir", str(tmp_path / "out"))
        request = protocol.PaletteRequest(**fields)
        events = []
        job = JobContext(request, model_cache, emit=events.append)
        job.events = events
        return request, job

    return make
