"""Blender with its backend set to a remote server through the environment, as a headless run sets
it: ``remote(url, token)`` points Atelier there; the session's backend client is stopped before and
after, so each test starts a fresh connection and leaves none behind."""

from __future__ import annotations

import pytest

URL_ENV, TOKEN_ENV = "ATELIER_BACKEND_URL", "ATELIER_BACKEND_TOKEN"
TOKEN = "loopback-test-token"


@pytest.fixture
def remote(addon, monkeypatch):
    """``remote(url, token=TOKEN)``: the backend is the server at ``url`` from now on."""
    session = addon.client.session
    session.shutdown()

    def point(url: str, token: str | None = TOKEN) -> None:
        monkeypatch.setenv(URL_ENV, url)
        if token is None:
            monkeypatch.delenv(TOKEN_ENV, raising=False)
        else:
            monkeypatch.setenv(TOKEN_ENV, token)

    yield point
    session.shutdown()


@pytest.fixture
def prefs(addon):
    """Atelier's preferences; the remote backend settings are unset again afterwards."""
    prefs = addon.preferences.addon_preferences()
    yield prefs
    for name in ("backend", "backend_url", "allow_insecure"):
        prefs.property_unset(name)
