"""Fixtures for the colour-scheme tests: palette job contexts."""

import pytest


@pytest.fixture
def make_job(job_factory):
    """``make_job(**request_fields) -> (request, JobContext)`` for palette requests."""
    from core import protocol

    return lambda **fields: job_factory(protocol.PaletteRequest, **fields)
