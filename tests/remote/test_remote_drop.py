"""The connection to a remote backend drops mid-job: the real Ray Serve application (``ray_backend``)
reached through a TCP proxy on loopback (``tcp_proxy.TcpProxy``) that resets connections the way a
network does and refuses new ones while the server's machine is "gone". A job whose events stream or
result download is cut loses nothing (the server replays a job's events from the first and keeps
its files); a server out of reach for longer than the retry window ends the job with a clear error,
and the next job works once it is back."""

from __future__ import annotations

import threading
import time
import urllib.parse

import numpy as np
import pytest
from blender_helpers import drain_until, image_pixels, mesh_object, png_pixels
from recorded_lines import job_lines, record_lines
from tcp_proxy import TcpProxy

GENERATE = dict(prompt="lichen on granite", seed=11, width=64, height=64, steps=2, maps=set())
RETRY_LOG = "asking for its events again"


@pytest.fixture
def proxy(ray_backend):
    """A proxy to the Ray Serve application; closed (every connection reset) afterwards."""
    proxy = TcpProxy(urllib.parse.urlsplit(ray_backend.url).port)
    yield proxy
    proxy.close()


@pytest.fixture
def transport(addon, ray_backend, proxy):
    """A started remote transport to the server through the proxy, stopped afterwards."""
    config = addon.client.remote_config.RemoteConfig(url=proxy.url, token=ray_backend.token)
    transport = config.make_transport()
    transport.start()
    yield transport
    transport.stop()


def _request(addon, tiny_sd, folder, request_id: str):
    folder.mkdir()
    return addon.core.protocol.TextureRequest(id=request_id, prompt="lichen on granite", seed=11, width=64,
                                              height=64, steps=2, model=str(tiny_sd), device="cpu",
                                              output_dir=str(folder))


def _inside_last_progress(answer: bytes) -> int:
    """A byte offset within the events stream's last progress line (accepted and the progress
    before it came whole), counted in the answer's body."""
    return answer.split(b"\r\n\r\n", 1)[1].rindex(b'"type":"progress"') + 10


def test_a_stream_cut_mid_job_is_read_again_and_loses_nothing(addon, ray_backend, tiny_sd, transport,
                                                              proxy, tmp_path):
    """The stream is reset inside an event line; the transport reads the job's events again and
    queues each event once (accepted once, each progress once and in order): the result is the
    undisturbed one."""
    protocol = addon.core.protocol
    calm = job_lines(transport, protocol, _request(addon, tiny_sd, tmp_path / "calm", "calm"))
    assert calm[-1]["type"] == "result", calm[-1]
    stream = bytes(proxy.with_request(b"/events")[-1].answer)
    proxy.cut_after(b"/events", _inside_last_progress(stream))
    queued = record_lines(transport)
    cut = job_lines(transport, protocol, _request(addon, tiny_sd, tmp_path / "cut", "cut"))
    assert cut[-1]["type"] == "result", cut[-1]

    streams = proxy.with_request(b"/events")
    assert len(streams) == 3 and streams[1].cut and not streams[2].cut  # cut once, read again
    assert [line["type"] for line in queued].count("accepted") == 1
    steps = [line["step"] for line in queued if line["type"] == "progress"]
    assert steps == [1, 2], f"each progress event is queued once, in order: {steps}"
    assert "the connection broke" in transport.log_tail() and RETRY_LOG in transport.log_tail()
    (calm_file,), (cut_file,) = calm[-1]["files"], cut[-1]["files"]
    np.testing.assert_array_equal(png_pixels(cut_file["path"]), png_pixels(calm_file["path"]))


def test_a_download_cut_short_is_fetched_again(addon, ray_backend, tiny_sd, transport, proxy, tmp_path):
    protocol = addon.core.protocol
    calm = job_lines(transport, protocol, _request(addon, tiny_sd, tmp_path / "calm", "calm-file"))
    proxy.cut_after(b"/files/base_color", 100)  # a part of the PNG
    cut = job_lines(transport, protocol, _request(addon, tiny_sd, tmp_path / "cut", "cut-file"))
    assert cut[-1]["type"] == "result", cut[-1]
    downloads = proxy.with_request(b"/files/base_color")
    assert len(downloads) == 3 and downloads[1].cut and not downloads[2].cut
    assert "asking for the base_color file again" in transport.log_tail()
    np.testing.assert_array_equal(png_pixels(cut[-1]["files"][0]["path"]),
                                  png_pixels(calm[-1]["files"][0]["path"]))


def _texture(bpy):
    """generate_texture on a new cube: its pixels (the operator must finish)."""
    cube = mesh_object(bpy)
    assert bpy.ops.atelier.generate_texture(**GENERATE) == {"FINISHED"}
    node = next(n for n in cube.active_material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage")
    return image_pixels(node.image)


def _restore_after_refused_try(proxy, client) -> threading.Thread:
    """Let the server back in once the client has found it out of reach once."""
    def watch() -> None:
        deadline = time.monotonic() + 60
        while "connection refused" not in client.log_tail() and time.monotonic() < deadline:
            time.sleep(0.01)
        proxy.restore()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_texture_survives_a_connection_reset_and_a_short_outage(bpy_module, addon, clean_scene,
                                                                    backend_env, ray_backend, remote, proxy):
    """Through Blender: the events stream is reset and the server is out of reach for a moment
    (one try refused); the texture lands as the undisturbed one, one material."""
    bpy = bpy_module
    remote(proxy.url, ray_backend.token)
    calm = _texture(bpy)
    stream = bytes(proxy.with_request(b"/events")[-1].answer)
    client = addon.client.session.current_client()
    bpy.ops.wm.read_homefile(use_empty=True)
    proxy.cut_after(b"/events", _inside_last_progress(stream), then_refuse=True)
    watcher = _restore_after_refused_try(proxy, client)
    np.testing.assert_array_equal(_texture(bpy), calm)
    watcher.join(5)
    assert len(bpy.data.materials) == 1
    assert "connection refused" in client.log_tail()


def test_a_server_out_of_reach_past_the_window_ends_the_job_clearly(bpy_module, addon, clean_scene,
                                                                   backend_env, ray_backend, remote, proxy):
    """The server goes away mid-job and stays away: the texture call ends within seconds saying
    the connection was lost and the job may still run there; nothing lands; once the server is
    back the next texture works."""
    bpy = bpy_module
    remote(proxy.url, ray_backend.token)
    window = sum(addon.client.remote_transport.RECONNECT_DELAYS)
    cube = mesh_object(bpy)
    proxy.cut_after(b"/events", 80, then_refuse=True)  # after the first event
    started = time.monotonic()
    with pytest.raises(RuntimeError) as raised:
        bpy.ops.atelier.generate_texture(**GENERATE)
    took = time.monotonic() - started
    error = str(raised.value)
    assert f"the connection to the remote backend at {proxy.url} was lost mid-job" in error, error
    assert "nothing listens there (connection refused)" in error and "may still run on the server" in error
    assert "check that the server still runs" in error
    assert window <= took < window + 10, took
    assert cube.active_material is None and not bpy.data.materials and not bpy.data.images
    proxy.restore()
    assert bpy.ops.atelier.generate_texture(**GENERATE) == {"FINISHED"}
    assert cube.active_material is not None


def test_a_cancel_while_the_connection_is_made_again_ends_the_job(addon, backend_env, ray_backend, remote,
                                                                  proxy, tmp_path):
    remote(proxy.url, ray_backend.token)
    session = addon.client.session
    client = session.client_for(addon.preferences.backend_config(session.EXTENSION_DIR))
    proxy.cut_after(b"/events", 80, then_refuse=True)  # after the first event
    job = session.submit(client, addon.core.protocol.TextureRequest(
        id=session.new_request_id(), prompt="slate", width=64, height=64, steps=2, seed=3,
        model=str(backend_env), device="cpu", output_dir=str(tmp_path)))
    drain_until(session, client, lambda: RETRY_LOG in client.log_tail() or job.done, what="a lost stream")
    assert not job.done, job.error
    session.cancel(client, job)
    drain_until(session, client, lambda: job.done, timeout=10, what="the cancel")
    assert job.cancelled and job.error.message == addon.client.remote_http.CANCELLED_HERE, job.error
    assert not (tmp_path / job.id).exists()
