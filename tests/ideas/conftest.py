"""Fixtures for the scene-idea tests: hand-written idea documents and idea job contexts."""

import copy
import json
from pathlib import Path

import pytest

_NOOK = json.loads((Path(__file__).with_name("reading_nook.json")).read_text(encoding="utf-8"))


@pytest.fixture
def nook() -> dict:
    """A valid, hand-written idea using every primitive and light type (a fresh copy)."""
    return copy.deepcopy(_NOOK)


@pytest.fixture
def make_job(job_factory):
    """``make_job(**request_fields) -> (request, JobContext)`` for idea requests (seed 0)."""
    from core import protocol

    def make(**fields):
        fields.setdefault("seed", 0)
        return job_factory(protocol.IdeasRequest, **fields)

    return make


@pytest.fixture
def stored(addon, clean_scene, nook):
    """The scene with the hand-written idea stored as its only idea."""
    addon.apply.scene_idea.store_ideas(clean_scene, [nook], prompt="a reading nook", engine="hand")
    return clean_scene
