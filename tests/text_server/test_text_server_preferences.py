"""The Text Server URL and Text Server Model preferences: what Blender shows, that jobs use them
when the environment sets nothing, and that ATELIER_TEXT_SERVER_URL/_MODEL win when set."""

from __future__ import annotations

import json

import pytest
from panel_recorder import RecordingLayout, labels
from scripted_server import running, stream

GOOD_PALETTE = {"title": "Dusk", "colors": [
    {"hex": "#101820", "name": "Night", "role": "background"},
    {"hex": "#ff2a6d", "name": "Neon Pink", "role": "primary"},
    {"hex": "#05d9e8", "name": "Cyan Sign", "role": "accent"},
]}
URL_ENV, MODEL_ENV = "ATELIER_TEXT_SERVER_URL", "ATELIER_TEXT_SERVER_MODEL"


@pytest.fixture
def prefs(addon, monkeypatch):
    """Atelier's preferences with no backend and no text server in the environment; the text
    server preferences are unset again afterwards."""
    for name in (URL_ENV, MODEL_ENV, "ATELIER_PYTHON", "ATELIER_TEXT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    addon.client.session.shutdown()
    prefs = addon.preferences.addon_preferences()
    yield prefs
    addon.client.session.shutdown()
    prefs.property_unset("text_server_url")
    prefs.property_unset("text_server_model")


class _Drawn:
    """The preferences as ``draw`` sees them, with a recording layout."""

    def __init__(self, prefs, layout) -> None:
        object.__setattr__(self, "_prefs", prefs)
        object.__setattr__(self, "layout", layout)

    def __getattr__(self, name):
        return getattr(self._prefs, name)


def _shown(bpy, addon, prefs) -> list[str]:
    calls = []
    addon.preferences.AtelierPreferences.draw(_Drawn(prefs, RecordingLayout(bpy, calls)), bpy.context)
    return calls


def test_the_preferences_are_named_as_the_readme_says(prefs):
    properties = prefs.bl_rna.properties
    assert properties["text_server_url"].name == "Text Server URL"
    assert properties["text_server_model"].name == "Text Server Model"
    assert not any("key" in name.lower() for name in properties.keys())  # the key is never a property


def test_the_preferences_pick_the_server_when_the_environment_sets_none(bpy_module, addon, clean_scene,
                                                                         prefs):
    assert addon.preferences.text_server_config() is None  # nothing set: the backend's jobs
    with running() as server:
        server.script(stream(json.dumps(GOOD_PALETTE)))
        prefs.text_server_url, prefs.text_server_model = server.url, "model-from-preferences"
        assert bpy_module.ops.atelier.generate_palette(source="PROMPT", prompt="dusk", count=3,
                                                       seed=1) == {"FINISHED"}
    assert [r["body"]["model"] for r in server.requests] == ["model-from-preferences"]
    assert clean_scene.atelier.palette.palette is not None


def test_the_environment_wins_over_the_preferences(bpy_module, addon, clean_scene, prefs, monkeypatch):
    with running() as preferred, running() as overriding:
        for server in (preferred, overriding):
            server.script(stream(json.dumps(GOOD_PALETTE)))
        prefs.text_server_url, prefs.text_server_model = preferred.url, "model-from-preferences"
        monkeypatch.setenv(URL_ENV, overriding.url)
        monkeypatch.setenv(MODEL_ENV, "model-from-environment")
        assert bpy_module.ops.atelier.generate_palette(source="PROMPT", prompt="dusk", count=3,
                                                       seed=1) == {"FINISHED"}
    assert preferred.requests == []
    assert [r["body"]["model"] for r in overriding.requests] == ["model-from-environment"]


def test_the_preferences_show_the_overriding_url_without_its_secrets(bpy_module, addon, prefs, monkeypatch):
    monkeypatch.setenv(URL_ENV, "https://artist:hunter2@llm.example.com:8443/v1?api_key=sk-secret")
    shown = labels(_shown(bpy_module, addon, prefs))
    assert f"{URL_ENV} = https://llm.example.com:8443/v1" in shown
    assert not any("hunter2" in label or "sk-secret" in label for label in shown)
