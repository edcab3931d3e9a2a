"""The model manager's Blender tests: the real backend, a private Hugging Face cache, and the
loopback stand-in for the hub (``tests/hub_standin.py``; the real hub cannot be reached).

Blender as a module never has online access (``bpy.app.online_access`` is False), so downloads
are refused there as in an offline Blender. ``online`` stands for an online Blender: it makes
Atelier's ``preferences.allow_network`` answer True (as Blender does with online access) and
gives the backend a hub environment: downloads on, from the stand-in, into the test's cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_standin import folder_files, serving
from standin_models import NON_COMMERCIAL_ID, TINY_ID


@pytest.fixture
def hub(tiny_sd_model):
    """A stand-in hub serving the tiny SD pipeline as ``TINY_ID`` and ``NON_COMMERCIAL_ID``."""
    files = folder_files(tiny_sd_model)
    with serving({TINY_ID: files, NON_COMMERCIAL_ID: files}) as state:
        yield state


@pytest.fixture
def models_cache(tmp_path) -> Path:
    """The backend's Hugging Face cache for this test (empty; Atelier's record goes beside it)."""
    return tmp_path / "hf-home" / "hub"


@pytest.fixture
def fresh_backend(addon, backend_env, clean_scene, hub, models_cache, monkeypatch):
    """A backend started for this test, with the test's cache and the stand-in as its hub (but
    downloads still off: HF_HUB_OFFLINE stays 1); stopped afterwards so the next test's backend
    has the session's environment again."""
    session = addon.client.session
    session.shutdown()
    monkeypatch.setenv("HF_HOME", str(models_cache.parent))
    monkeypatch.setenv("HF_HUB_CACHE", str(models_cache))
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_TOKEN", "")  # no token of whoever runs the tests
    monkeypatch.delenv("ATELIER_STATE_DIR", raising=False)
    yield session
    session.shutdown()


@pytest.fixture
def online(addon, fresh_backend, monkeypatch):
    """An online Blender: ``allow_network`` true, and the backend's hub forced offline no more."""
    monkeypatch.setattr(addon.preferences, "allow_network", lambda: True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    return fresh_backend


@pytest.fixture
def foreign_revision(models_cache):
    """``foreign_revision(model, commit)``: a revision of ``model`` put in the test's cache by
    someone else (laid out as ``hf download`` does); returns its snapshot folder."""
    def write(model: str, commit: str) -> Path:
        repo = models_cache / ("models--" + model.replace("/", "--"))
        blob = repo / "blobs" / ("f" * 40)
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_text('{"_class_name": "StableDiffusionPipeline"}')
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        (snapshot / "model_index.json").symlink_to(blob)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "someone-elses").write_text(commit)
        return snapshot

    return write
