"""Small helpers shared by the Blender tests."""

import time

import numpy as np
from PIL import Image  # pillow: reads the backend's PNG to compare pixels


def install_checkout(bpy, folder, repo_module: str):
    """Install this checkout as an extension of a fresh Blender, the way the ``addon`` fixture
    does (a local repository in ``folder`` linking to it); returns the enabled package."""
    import sys
    from pathlib import Path

    import addon_utils

    folder.mkdir()
    (folder / "atelier").symlink_to(Path(__file__).resolve().parents[1], target_is_directory=True)
    bpy.context.preferences.extensions.repos.new(name=repo_module, module=repo_module,
                                                 custom_directory=str(folder), source="USER")
    module = f"bl_ext.{repo_module}.atelier"
    addon_utils.enable(module, default_set=True)
    return sys.modules[module]


def mesh_object(bpy, name="Cube", uvs=True):
    """A cube mesh object linked to the scene, selected and active (with or without a UV map)."""
    bpy.ops.mesh.primitive_cube_add(size=2.0, calc_uvs=uvs)
    obj = bpy.context.active_object
    obj.name = name
    return obj


def drain_until(jobs, client, done, timeout=60.0, what="the job"):
    """Drain events the way the modal timer does (no blocking wait) until ``done()``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        jobs.drain(client, timeout=0.05)


def run_job(jobs, client, request, timeout=120.0):
    """Start a job and drain it until it ends."""
    job = jobs.submit(client, request, label="test")
    drain_until(jobs, client, lambda: job.done, timeout, f"job {job.id} to finish")
    return job


def slow_texture_request(jobs, protocol, model, output_dir, prompt):
    """A texture job long enough (256 px, 150 steps on the CPU) to act on while it runs."""
    return protocol.TextureRequest(id=jobs.new_request_id(), prompt=prompt, width=256, height=256,
                                   steps=150, model=str(model), device="cpu", output_dir=str(output_dir))


def start_slow_texture_job(jobs, protocol, client, model, output_dir, prompt):
    """Submit a slow texture job and drain until its first denoising step."""
    job = jobs.submit(client, slow_texture_request(jobs, protocol, model, output_dir, prompt))
    drain_until(jobs, client, lambda: job.step >= 1 or job.done, what=f"job {job.id} to start")
    return job


def png_pixels(path):
    """The PNG as float RGBA rows bottom-up (Blender's pixel order), values 0..1."""
    with Image.open(path) as image:
        data = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    return data[::-1]


def image_pixels(image):
    width, height = image.size
    pixels = np.empty(width * height * 4, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    return pixels.reshape(height, width, 4)


def links(material):
    return {(link.from_node.bl_idname, link.from_socket.name, link.to_node.bl_idname, link.to_socket.name)
            for link in material.node_tree.links}


def operator_refusal(bpy, state, operator: str, **kwargs) -> str:
    """Call ``bpy.ops.atelier.<operator>`` expecting a refusal; the error it reports, checked to
    be no traceback and to leave ``state(bpy)`` (what the caller must find unchanged) as it was."""
    import pytest

    before = state(bpy)
    with pytest.raises(RuntimeError) as refused:
        getattr(bpy.ops.atelier, operator)(**kwargs)
    assert state(bpy) == before
    message = str(refused.value)
    assert "Traceback" not in message
    return message
