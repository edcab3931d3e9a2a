"""A remote backend URL that is not a working Atelier backend: a texture call through Blender ends
within seconds with an error that says what is wrong and what to change, and the scene is as it
was. The servers are tiny ones on loopback (``loopback_backend.py``)."""

from __future__ import annotations

import json
import time

import pytest
from blender_helpers import mesh_object
from loopback_backend import (
    closed_port_url,
    hello,
    never_ending,
    self_signed_tls,
    serving,
    silent,
    unauthorized,
    web_page,
)

# hello_seconds (10) is the longest any of these may take; the rest is Blender and the thread.
SECONDS = 30


def _texture_error(bpy, addon) -> tuple[str, float]:
    """Run a texture call on a fresh cube; (the error it reported, seconds it took). The scene
    must be unchanged: no material made or assigned."""
    cube = mesh_object(bpy)
    materials = set(bpy.data.materials)
    started = time.monotonic()
    with pytest.raises(RuntimeError) as raised:  # how bpy.ops reports an operator's ERROR
        bpy.ops.atelier.generate_texture(prompt="wet cobblestones", seed=3, width=64, height=64, steps=2,
                                         maps=set())
    took = time.monotonic() - started
    assert set(bpy.data.materials) == materials and cube.active_material is None
    error = bpy.context.window_manager.atelier.last_error
    assert error in str(raised.value)
    return error, took


def test_a_web_page_is_not_a_backend(bpy_module, addon, clean_scene, remote):
    with serving(web_page()) as server:
        remote(server.url)
        error, took = _texture_error(bpy_module, addon)
    assert "is a web page (HTML): this is not an Atelier backend" in error, error
    assert "Remote URL" in error and took < SECONDS
    assert [r["path"] for r in server.requests] == ["/v1/hello"]  # nothing was uploaded


def test_another_protocol_version_is_refused(bpy_module, addon, clean_scene, remote):
    with serving(hello(2)) as server:
        remote(server.url)
        error, took = _texture_error(bpy_module, addon)
    assert "speaks protocol 2, this Atelier protocol 1" in error, error
    assert "same Atelier version" in error and took < SECONDS
    assert [r["path"] for r in server.requests] == ["/v1/hello"]


def test_a_hello_that_never_ends_is_given_up_within_seconds(bpy_module, addon, clean_scene, remote):
    with serving(never_ending) as server:
        remote(server.url)
        error, took = _texture_error(bpy_module, addon)
    assert "did not answer within 10 s" in error, error
    assert took < SECONDS


def test_a_server_that_never_answers_is_given_up_within_seconds(bpy_module, addon, clean_scene, remote):
    with serving(silent) as server:
        remote(server.url)
        error, took = _texture_error(bpy_module, addon)
    assert "did not answer within 10 s" in error, error
    assert took < SECONDS


def test_an_unreachable_url_fails_at_once(bpy_module, addon, clean_scene, remote):
    url = closed_port_url()
    remote(url)
    error, took = _texture_error(bpy_module, addon)
    assert f"cannot reach the remote backend at {url}: nothing listens there" in error, error
    assert "Remote URL (or ATELIER_BACKEND_URL)" in error and took < SECONDS


def test_a_refused_token_says_where_the_token_comes_from(bpy_module, addon, clean_scene, remote):
    with serving(unauthorized()) as server:
        remote(server.url, token="not-the-servers-token")
        error, _ = _texture_error(bpy_module, addon)
    assert "refused the token (HTTP 401: a valid bearer token is needed)" in error, error
    assert "ATELIER_BACKEND_TOKEN" in error and "remote_token" in error
    assert "not-the-servers-token" not in error
    assert [(r["path"], r["headers"]["Authorization"]) for r in server.requests] == [
        ("/v1/hello", "Bearer not-the-servers-token")]  # refused at the hello: nothing was uploaded


def test_a_certificate_nobody_trusts_is_refused(bpy_module, addon, clean_scene, remote, tmp_path):
    with serving(hello(1), tls=self_signed_tls(tmp_path)) as server:
        remote(server.url)
        error, took = _texture_error(bpy_module, addon)
    assert f"the certificate of the remote backend at {server.url} cannot be verified" in error, error
    assert "self-signed certificate" in error and took < SECONDS
    assert server.requests == []  # the handshake failed: no request, no token, was sent


@pytest.mark.parametrize("url", ["http://gpu-server.example:8765", "http://192.168.7.20:8765"])
def test_plain_http_to_another_machine_is_refused(bpy_module, addon, clean_scene, remote, url):
    remote(url)
    error, took = _texture_error(bpy_module, addon)
    assert "is plain http to another machine" in error, error
    assert "Allow Insecure Connection" in error


def test_allowing_insecure_still_needs_online_access(bpy_module, addon, clean_scene, remote, prefs):
    """The bpy module runs with online access off: another machine is not asked at all."""
    remote("http://gpu-server.example:8765")
    prefs.allow_insecure = True
    error, _ = _texture_error(bpy_module, addon)
    assert "is on another machine and Blender's online access is off" in error, error


@pytest.mark.parametrize("url", ["http://[::1", "http://[gpu]:8765"])
def test_a_url_that_cannot_be_taken_apart_is_said_everywhere(bpy_module, addon, clean_scene, remote, url):
    """The preferences' check, the panel and an operator say what to change; nothing raises."""
    from panel_recorder import draw, labels

    remote(url)
    problem = addon.preferences.backend_problem()
    assert f"the remote backend URL {url!r} is not a valid URL; set Remote URL" in problem, problem
    shown = labels(draw(bpy_module, addon.panels.main.ATELIER_PT_main))
    assert any("not set up" in label for label in shown), shown
    error, _ = _texture_error(bpy_module, addon)
    assert problem in error, error


def test_a_refused_start_gives_remote_advice_not_the_local_processs(addon, remote, tmp_path):
    """A connection that cannot start says what to change for a server, not for a Python."""
    session, protocol = addon.client.session, addon.core.protocol
    config = addon.client.remote_config.RemoteConfig(url="ftp://gpu-server:8765", token="t")
    client = session.client_for(config)
    request = protocol.TextureRequest(id=session.new_request_id(), prompt="p", output_dir=str(tmp_path))
    with pytest.raises(session.JobRefused) as refused:
        session.submit(client, request)
    assert "is not an http(s) URL; set Remote URL" in str(refused.value)
    assert "backend Python" not in str(refused.value) and "ATELIER_PYTHON" not in str(refused.value)
    assert list(tmp_path.iterdir()) == []  # its job folder was removed again


def test_the_doctor_report_shows_a_servers_hello_as_short_plain_text(addon, tmp_path):
    """A server's own words (its version, its task names) reach the report as one short
    printable line each, whatever it sends."""
    from loopback_backend import reply

    document = {"type": "hello", "protocol": 1, "backend_version": "9.9\n\x1b[31mFAKE LINE" + "v" * 500,
                "capabilities": ["texture\nremote backend: evil"] + [f"task{n}" for n in range(200)],
                "pid": 0, "limits": {}, "transport": "http"}
    with serving(reply(200, json.dumps(document), "application/json")) as server:
        config = addon.client.remote_config.RemoteConfig(url=server.url, token="t")
        client = addon.client.backend_client.BackendClient(config)
        client.submit(addon.core.protocol.PingRequest(id="ping"))
        deadline = time.monotonic() + 30
        while client.hello is None:
            assert time.monotonic() < deadline, "no hello came"
            client.poll(0.1)
        models = addon.core.results.ModelsResult(id="models", models=())
        report = addon.operators.doctor.remote_summary(client, models)
        client.stop()
    lines = report.splitlines()
    assert len(lines) == 3, lines  # no line a server's text could add
    assert all(line.isprintable() and len(line) <= 300 for line in lines), lines
    assert lines[1].startswith("remote backend version 9.9 [31mFAKE LINE") and "task0" in lines[1]
    assert "task199" not in lines[1]
