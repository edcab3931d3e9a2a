"""Blender through the remote transport against a real Ray Serve application on loopback
(``ray_backend``: two CPU replicas, the tiny SD model): the same texture as the local process,
result files fetched into the local job folder, a refused token, another user's token, a cancel."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest
from blender_helpers import (
    drain_until,
    image_pixels,
    mesh_object,
    png_pixels,
    run_job,
    start_slow_texture_job,
)

GENERATE = dict(prompt="mossy stone wall", seed=7, width=64, height=64, steps=2, maps=set())


def _texture_pixels(bpy):
    cube = mesh_object(bpy)
    assert bpy.ops.atelier.generate_texture(**GENERATE) == {"FINISHED"}
    texture = next(n for n in cube.active_material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage")
    return image_pixels(texture.image), json.loads(texture.image["atelier_provenance"])


def test_a_remote_texture_is_pixel_identical_to_a_local_one(bpy_module, addon, clean_scene, backend_env,
                                                            ray_backend, remote, monkeypatch):
    bpy = bpy_module
    local, local_record = _texture_pixels(bpy)
    bpy.ops.wm.read_homefile(use_empty=True)
    remote(ray_backend.url, ray_backend.token)
    served, served_record = _texture_pixels(bpy)
    assert served.shape == (64, 64, 4)
    np.testing.assert_array_equal(served, local)
    assert served_record["parameters"] == local_record["parameters"]
    assert served_record["model"] == local_record["model"] == str(backend_env)
    client = addon.client.session.current_client()  # the second texture took the remote road
    assert isinstance(client.config, addon.client.remote_config.RemoteConfig)
    assert client.hello.protocol == addon.core.protocol.PROTOCOL_VERSION


def _remote_client(addon):
    session = addon.client.session
    return session, session.client_for(addon.preferences.backend_config(session.EXTENSION_DIR))


def test_result_files_land_in_the_local_job_folder(addon, backend_env, ray_backend, remote, tmp_path):
    remote(ray_backend.url, ray_backend.token)
    session, client = _remote_client(addon)
    protocol = addon.core.protocol
    request = protocol.TextureRequest(id=session.new_request_id(), prompt="blue tiles", width=64, height=64,
                                      steps=2, seed=5, model=str(backend_env), device="cpu",
                                      output_dir=str(tmp_path))
    job = run_job(session, client, request)
    assert job.error is None, job.error
    assert job.result.base_color == tmp_path / request.id / "base_color.png"
    assert job.result.base_color.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.log_tail() == ""  # deleting the job on the server did not fail (it is logged)
    session.release(job.id)
    assert not (tmp_path / request.id).exists()


def test_a_wrong_token_is_refused_with_a_clear_message(bpy_module, addon, clean_scene, ray_backend, remote):
    bpy = bpy_module
    cube = mesh_object(bpy)
    remote(ray_backend.url, "not-a-token-the-server-knows")
    with pytest.raises(RuntimeError, match="refused the token \\(HTTP 401") as raised:
        bpy.ops.atelier.generate_texture(**GENERATE)
    assert "set ATELIER_BACKEND_TOKEN, or the remote_token file" in str(raised.value)
    assert "not-a-token-the-server-knows" not in str(raised.value)
    assert cube.active_material is None and not bpy.data.materials


def _finished_job(ray_backend, tiny_sd) -> str:
    """A texture job made over plain HTTP with the server's first token; its id once it ended."""
    boundary = "b0undary"
    request = {"type": "texture", "id": "other-user-job", "prompt": "red bricks", "width": 64, "height": 64,
               "steps": 2, "seed": 1, "model": str(tiny_sd), "device": "cpu"}
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="request"\r\n\r\n'
            f"{json.dumps(request)}\r\n--{boundary}--\r\n").encode()
    headers = {"Authorization": f"Bearer {ray_backend.token}",
               "Content-Type": f"multipart/form-data; boundary={boundary}"}
    posted = urllib.request.Request(f"{ray_backend.url}/v1/jobs", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(posted, timeout=60) as answer:
        job = json.load(answer)["job"]
    events = urllib.request.Request(f"{ray_backend.url}/v1/jobs/{job}/events", headers=headers)
    with urllib.request.urlopen(events, timeout=120) as stream:
        last = [json.loads(line) for line in stream if line.strip()][-1]
    assert last["type"] == "result", last
    return job


def test_another_token_cannot_fetch_a_jobs_files(addon, ray_backend, tiny_sd):
    """Blender's HTTP call with the second user's token gets 404 for the first user's finished job,
    the same answer as for a job that does not exist."""
    remote_http, RemoteConfig = addon.client.remote_http, addon.client.remote_config.RemoteConfig
    TaskError = addon.core.errors.TaskError
    job = _finished_job(ray_backend, tiny_sd)
    for token, tail in ((ray_backend.other_tokens[0], f"/jobs/{job}/files/base_color"),
                        (ray_backend.token, "/jobs/no-such-job-0123456789abcdef/files/base_color")):
        call = remote_http.Call(RemoteConfig(url=ray_backend.url, token=token), seconds=30)
        try:
            response = call.send("GET", tail, wait=30)
            with pytest.raises(TaskError, match="HTTP 404") as raised:
                remote_http.check(call, response, "the job's base_color file")
        finally:
            call.close()
        assert "does not know the job's base_color file" in raised.value.message
    call = remote_http.Call(RemoteConfig(url=ray_backend.url, token=ray_backend.token), seconds=30)
    try:  # the owner still can, and then deletes it
        response = call.send("GET", f"/jobs/{job}/files/base_color", wait=30)
        remote_http.check(call, response, "the file")
        assert response.read()[:4] == b"\x89PNG"
    finally:
        call.close()


def test_cancel_from_blender_ends_the_remote_job(addon, backend_env, ray_backend, remote, tmp_path):
    remote(ray_backend.url, ray_backend.token)
    session, client = _remote_client(addon)
    protocol = addon.core.protocol
    job = start_slow_texture_job(session, protocol, client, backend_env, tmp_path, "slow marble")
    assert job.error is None and job.step >= 1, job.error
    session.cancel(client, job)
    drain_until(session, client, lambda: job.done, what="the cancel")
    assert job.cancelled, job.error
    # The server's own word ended it (a job ended here before the server confirmed the cancel
    # says so), and no call to the server failed (each is logged).
    assert job.error.message == "the job was cancelled", job.error
    assert client.log_tail() == ""
    assert not (tmp_path / job.id).exists()
    next_job = run_job(session, client, protocol.TextureRequest(
        id=session.new_request_id(), prompt="after the cancel", width=64, height=64, steps=2, seed=2,
        model=str(backend_env), device="cpu", output_dir=str(tmp_path)))
    assert next_job.error is None, next_job.error


def test_doctor_checks_the_remote_backend(bpy_module, addon, ray_backend, remote, prefs):
    remote(ray_backend.url, ray_backend.token)
    assert bpy_module.ops.atelier.backend_doctor() == {"FINISHED"}
    report = prefs.doctor_report.splitlines()
    assert report[0] == (f"remote backend: {ray_backend.url}: reachable, token accepted, protocol "
                         f"{addon.core.protocol.PROTOCOL_VERSION} as this Atelier")
    assert report[1].startswith("remote backend version ") and "texture" in report[1]
    assert report[2].startswith("models in the server's cache: ")
    assert "doctor: everything works" in report and report[-1] == "Backend OK"


def test_doctor_says_when_the_remote_backend_refuses_the_token(bpy_module, addon, ray_backend, remote,
                                                               prefs):
    remote(ray_backend.url, "not-a-token-the-server-knows")
    with pytest.raises(RuntimeError, match="Doctor failed: the remote backend at .* refused the token"):
        bpy_module.ops.atelier.backend_doctor()
    assert prefs.doctor_report.startswith(f"Doctor failed: the remote backend at {ray_backend.url} refused")


def test_an_input_image_is_uploaded_and_refined_as_the_local_process_does(addon, backend_env, ray_backend,
                                                                         remote, tmp_path, monkeypatch):
    """A refine names a picture on this machine: the server gets its bytes, and the result is the
    same as the local process makes of it (both on one torch thread: ``backend_env``, and the
    server's replicas)."""
    from PIL import Image

    picture = tmp_path / "my pictures" / "bricks.png"
    picture.parent.mkdir()
    gradient = np.linspace(0, 255, 64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    Image.fromarray(gradient).save(picture)
    session, protocol = addon.client.session, addon.core.protocol

    def refined(folder):
        client = session.client_for(addon.preferences.backend_config(session.EXTENSION_DIR))
        request = protocol.RefineRequest(id=session.new_request_id(), image=str(picture), prompt="old bricks",
                                         strength=0.5, steps=2, seed=4, model=str(backend_env), device="cpu",
                                         output_dir=str(folder))
        job = run_job(session, client, request)
        assert job.error is None, job.error
        assert job.result.base_color.is_relative_to(folder / request.id)
        return png_pixels(job.result.base_color)

    local = refined(tmp_path / "local")
    remote(ray_backend.url, ray_backend.token)
    np.testing.assert_array_equal(refined(tmp_path / "remote"), local)
