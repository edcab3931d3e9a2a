"""The Backend, Remote URL and Allow Insecure Connection preferences, the token's two sources
(ATELIER_BACKEND_TOKEN, else the remote_token file), and the environment winning over the
preferences. The server is a loopback one that refuses every token, so what reached it shows
which URL and token a job used."""

from __future__ import annotations

import pytest
from blender_helpers import mesh_object
from loopback_backend import serving, unauthorized
from panel_recorder import RecordingLayout, draw, labels

URL_ENV, TOKEN_ENV = "ATELIER_BACKEND_URL", "ATELIER_BACKEND_TOKEN"


@pytest.fixture
def token_file(addon, monkeypatch):
    """The remote_token file in Atelier's user folder (removed afterwards); no token or URL in
    the environment."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    addon.client.session.shutdown()
    path = addon.preferences.token_file()
    yield path
    path.unlink(missing_ok=True)
    addon.client.session.shutdown()


def _texture_error(bpy) -> str:
    mesh_object(bpy)
    with pytest.raises(RuntimeError) as raised:
        bpy.ops.atelier.generate_texture(prompt="slate roof", seed=1, width=64, height=64, steps=2,
                                         maps=set())
    return str(raised.value)


def _tokens_sent(server) -> list[str]:
    return [r["headers"].get("Authorization", "") for r in server.requests]


def test_the_preferences_are_named_as_the_readme_says(prefs):
    properties = prefs.bl_rna.properties
    assert properties["backend"].name == "Backend"
    assert [item.name for item in properties["backend"].enum_items] == ["Local Process", "Remote Server"]
    assert properties["backend_url"].name == "Remote URL"
    assert properties["allow_insecure"].name == "Allow Insecure Connection"
    assert prefs.backend == "LOCAL" and not prefs.allow_insecure


def test_no_property_can_hold_the_token(bpy_module, prefs):
    """Neither the preferences nor anything saved in a .blend has a place for a token."""
    scene_properties = bpy_module.context.scene.atelier.bl_rna.properties.keys()
    for names in (prefs.bl_rna.properties.keys(), scene_properties):
        assert not [name for name in names if "token" in name.lower() or "key" in name.lower()]


def test_the_preferences_and_the_token_file_pick_the_server(bpy_module, addon, clean_scene, prefs,
                                                            token_file, tmp_path):
    token_file.write_text("token-from-the-file\nsecond line ignored\n")
    with serving(unauthorized()) as server:
        prefs.backend, prefs.backend_url = "REMOTE", server.url
        error = _texture_error(bpy_module)
    assert "refused the token" in error
    assert _tokens_sent(server) == ["Bearer token-from-the-file"]
    saved = tmp_path / "scene.blend"  # the token is nowhere in a saved file
    bpy_module.ops.wm.save_as_mainfile(filepath=str(saved), copy=True)
    assert b"token-from-the-file" not in saved.read_bytes()


def test_the_environment_wins_over_the_preferences_and_the_file(bpy_module, addon, clean_scene, prefs,
                                                                token_file, monkeypatch):
    token_file.write_text("token-from-the-file\n")
    with serving(unauthorized()) as preferred, serving(unauthorized()) as overriding:
        prefs.backend, prefs.backend_url = "REMOTE", preferred.url
        monkeypatch.setenv(URL_ENV, overriding.url)
        monkeypatch.setenv(TOKEN_ENV, "token-from-the-environment")
        _texture_error(bpy_module)
    assert preferred.requests == []
    assert _tokens_sent(overriding) == ["Bearer token-from-the-environment"]


def test_the_url_in_the_environment_means_remote_whatever_backend_says(addon, prefs, token_file,
                                                                        monkeypatch):
    config = addon.preferences.backend_config("/extension")
    assert isinstance(config, addon.client.BackendConfig)  # the local process by default
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:8765")
    assert prefs.backend == "LOCAL"
    config = addon.preferences.backend_config("/extension")
    assert isinstance(config, addon.client.remote_config.RemoteConfig)
    assert config.url == "http://127.0.0.1:8765"


def test_without_a_token_nothing_is_sent(bpy_module, addon, clean_scene, prefs, token_file):
    token_file.write_text("\n")  # an empty file is no token
    with serving(unauthorized()) as server:
        prefs.backend, prefs.backend_url = "REMOTE", server.url
        error = _texture_error(bpy_module)
    assert "no token for the remote backend: set ATELIER_BACKEND_TOKEN" in error
    assert server.requests == []


def test_a_token_is_never_shown(bpy_module, addon, prefs, token_file, monkeypatch):
    """The preferences say where the token comes from, and show the URL without credentials."""
    prefs.backend = "REMOTE"
    monkeypatch.setenv(TOKEN_ENV, "secret-token-value")
    monkeypatch.setenv(URL_ENV, "https://127.0.0.1:8765/atelier")
    calls = []
    addon.preferences.AtelierPreferences.draw(_Drawn(prefs, RecordingLayout(bpy_module, calls)),
                                              bpy_module.context)
    shown = labels(calls)
    drawn = [args[1] for name, args, _ in calls if name == "prop"]
    assert "backend_url" in drawn and "allow_insecure" in drawn and "python_path" not in drawn
    assert f"Token: {TOKEN_ENV}" in shown and f"{URL_ENV} = https://127.0.0.1:8765/atelier" in shown
    assert not any("secret-token-value" in text for text in shown)
    monkeypatch.delenv(TOKEN_ENV)
    assert addon.preferences.backend_problem().startswith("no token for the remote backend")


class _Drawn:
    """The preferences as ``draw`` sees them, with a recording layout."""

    def __init__(self, prefs, layout) -> None:
        object.__setattr__(self, "_prefs", prefs)
        object.__setattr__(self, "layout", layout)

    def __getattr__(self, name):
        return getattr(self._prefs, name)


@pytest.mark.parametrize("url, allow_insecure, allow_network, problem", [
    ("http://127.0.0.1:8765", False, False, ""),
    ("http://localhost:8765/atelier/", False, False, ""),
    ("https://gpu-server.example:8765", False, True, ""),
    ("http://gpu-server.example:8765", True, True, ""),
    ("ftp://gpu-server.example", False, True, "is not an http(s) URL"),
    ("gpu-server:8765", False, True, "is not an http(s) URL"),
    ("https://user:secret@gpu-server.example", False, True, "holds a user name, password, query"),
    ("https://gpu-server.example/?key=secret", False, True, "holds a user name, password, query"),
    ("https://gpu-server.example:99999", False, True, "has an invalid port"),
    ("http://gpu-server.example:8765", False, True, "is plain http to another machine"),
    ("https://gpu-server.example:8765", False, False, "Blender's online access is off"),
])
def test_which_urls_may_be_used(addon, url, allow_insecure, allow_network, problem):
    config = addon.client.remote_config.RemoteConfig(url=url, token="t0ken", allow_insecure=allow_insecure,
                                                     allow_network=allow_network)
    found = config.problem()
    assert (problem in found) if problem else found == "", found
    assert "secret" not in found and "t0ken" not in repr(config)


def test_the_api_lives_under_the_urls_own_path(addon):
    RemoteConfig = addon.client.remote_config.RemoteConfig
    assert RemoteConfig("https://h/").api_path("/hello") == "/v1/hello"
    assert RemoteConfig("https://h/atelier/v1").api_path("/jobs") == "/atelier/v1/jobs"


@pytest.mark.parametrize("token", ["two words", "tab\there", "ünicode", "x" * 5000])
def test_a_token_that_cannot_be_a_header_is_refused(addon, token):
    assert "is not one word of at most" in addon.client.remote_config.token_problem(token)


def test_the_panels_name_the_server_or_why_it_cannot_be_used(bpy_module, addon, clean_scene, prefs,
                                                             token_file, monkeypatch):
    panels = addon.panels
    monkeypatch.setenv(TOKEN_ENV, "t0ken")
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:8765")
    main_panel = labels(draw(bpy_module, panels.main.ATELIER_PT_main))
    assert "Backend: remote server at http://127.0.0.1:8765" in main_panel
    monkeypatch.setenv(URL_ENV, "http://gpu-server.example:8765")
    texture_panel = " ".join(labels(draw(bpy_module, panels.texture.ATELIER_PT_texture)))  # wrapped
    assert "is plain http to another machine" in texture_panel, texture_panel
    main_panel = labels(draw(bpy_module, panels.main.ATELIER_PT_main))
    assert "Backend: not set up (built-in engine only)" in main_panel
