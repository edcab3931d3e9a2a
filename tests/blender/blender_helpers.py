"""Small helpers shared by the Blender tests."""

import time

import numpy as np
from PIL import Image  # pillow: reads the backend's PNG to compare pixels


def mesh_object(bpy, name="Cube", uvs=True):
    """A cube mesh object linked to the scene, selected and active (with or without a UV map)."""
    bpy.ops.mesh.primitive_cube_add(size=2.0, calc_uvs=uvs)
    obj = bpy.context.active_object
    obj.name = name
    return obj


def run_job(jobs, client, request, timeout=120.0):
    """Start a job and drain it the way the modal timer does (no blocking wait)."""
    job = jobs.submit(client, request, label="test")
    deadline = time.monotonic() + timeout
    while not job.done:
        assert time.monotonic() < deadline, f"job {job.id} did not finish: {job.stage}"
        jobs.drain(client)
        time.sleep(0.05)
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
