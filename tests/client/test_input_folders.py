"""The files operators write for the backend to read lie in folders made like a job's own
(``operators/picture_file.py`` through ``client/job_folder.py``): locked while this session
runs, so a crashed session's are swept by the next one (across processes:
``tests/faults/test_quit_crash.py``), and removed when the job ends."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest


def test_the_palette_operators_copy_of_a_picture_lies_in_a_locked_folder(addon, bpy_module, clean_scene,
                                                                          monkeypatch):
    bpy, session = bpy_module, addon.client.session
    lock_name = addon.client.job_folder.LOCK_NAME
    image = bpy.data.images.new("Painted", 8, 8)  # made in Blender: no file, so a copy is sent
    image.pixels.foreach_set(np.ones(8 * 8 * 4, dtype=np.float32))
    sent = []

    def refuse(client, request, label=""):
        picture = Path(request.image)
        sent.append((picture, picture.is_file(), (picture.parent / lock_name).is_file()))
        raise session.JobRefused("not sent in this test")

    monkeypatch.setenv("ATELIER_PYTHON", sys.executable)
    monkeypatch.setattr(session, "submit", refuse)
    with pytest.raises(RuntimeError, match="not sent in this test"):
        bpy.ops.atelier.generate_palette(source="IMAGE", image="Painted", count=3)
    ((picture, written, locked),) = sent
    jobs = Path(addon.preferences.user_folder("jobs"))
    assert written and locked and picture.parent.parent == jobs
    assert picture.parent.name.startswith("palette-input-")
    assert not picture.parent.exists()  # the job ended: its input folder went with it


def test_an_input_folder_is_locked_until_released(addon, bpy_module):
    picture_file, job_folder = addon.operators.picture_file, addon.client.job_folder
    request_id = addon.client.session.new_request_id()
    folder = picture_file.input_folder("edit-input", request_id)
    assert folder.name == f"edit-input-{request_id}" and (folder / job_folder.LOCK_NAME).is_file()
    assert folder not in job_folder.sweep(folder.parent)  # this session's: never swept
    picture_file.release(folder)
    picture_file.release(folder)  # twice is harmless
    assert not folder.exists()


def test_the_classic_maps_work_in_a_locked_folder(addon, bpy_module, clean_scene, monkeypatch):
    bpy, job_folder = bpy_module, addon.client.job_folder
    classic = importlib.import_module(f"{addon.__name__}.apply.classic_maps")  # loaded on first use
    made_in, derive = [], classic.derive_files

    def derive_noting_the_folder(image, roles, seamless, folder):
        made_in.append((folder, (folder / job_folder.LOCK_NAME).is_file()))
        return derive(image, roles, seamless, folder)

    monkeypatch.setattr(classic, "derive_files", derive_noting_the_folder)
    image = bpy.data.images.new("Picture", 16, 16)
    bpy.ops.mesh.primitive_plane_add(size=2)
    material = bpy.data.materials.new("Picture")
    tree = material.node_tree
    texture = tree.nodes.new("ShaderNodeTexImage")
    texture.image = image
    tree.links.new(texture.outputs["Color"], tree.nodes["Principled BSDF"].inputs["Base Color"])
    bpy.context.active_object.data.materials.append(material)
    assert bpy.ops.atelier.derive_maps(maps={"NORMAL"}, maps_model="classic") == {"FINISHED"}
    ((folder, locked),) = made_in
    assert locked and folder.name.startswith("maps-") and not folder.exists()
