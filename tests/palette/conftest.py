"""Fixtures for the colour-scheme tests: palette job contexts on one torch thread."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared CPU threads only wait on each other."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def make_job(job_factory):
    """``make_job(**request_fields) -> (request, JobContext)`` for palette requests."""
    from backend import protocol

    return lambda **fields: job_factory(protocol.PaletteRequest, **fields)
