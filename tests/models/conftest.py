"""Shared set-up for the model manager tests: the loopback hub stand-in serving a tiny model,
and a backend environment that downloads from it into a private cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_standin import folder_files, serving
from model_downloads import TINY_ID


@pytest.fixture(scope="session")
def tiny_sd_files(tiny_sd_model) -> dict[str, bytes]:
    """The tiny SD pipeline's files as a hub repository holds them."""
    return folder_files(tiny_sd_model)


@pytest.fixture
def hub(tiny_sd_files):
    """A fresh stand-in hub serving the tiny SD pipeline as ``TINY_ID``; stopped afterwards."""
    with serving({TINY_ID: tiny_sd_files}) as state:
        yield state


@pytest.fixture
def hf_home(tmp_path) -> Path:
    """An empty huggingface_hub home (its cache is ``hub/`` inside, Atelier's record beside it)."""
    return tmp_path / "hf-home"


@pytest.fixture
def online(hub, hf_home) -> dict:
    """The backend's environment: downloads on, from the stand-in, into ``hf_home``, no token."""
    return {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": hub.url, "HF_HOME": str(hf_home),
            "HF_HUB_CACHE": str(hf_home / "hub"), "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": ""}


@pytest.fixture
def served(start_backend, online):
    """``served(**env)``: a serve process with the online environment (plus ``env``), hello read."""
    def make(**env):
        backend = start_backend(env={**online, **env})
        assert backend.next_event()["type"] == "hello"
        return backend

    return make
