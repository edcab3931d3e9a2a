"""The .blend saved while a texture job with maps runs on the UI's path: the job goes on and
its result lands in the scene open; the file written meanwhile holds nothing half made; and an
unsaved file saved mid-job keeps its images where the 'Save as Files' preference says for a
saved file: beside the .blend, under //textures/."""

from __future__ import annotations

import os

import pytest
from blend_jobs import names_in_file, operator_probe, start, tick
from blender_helpers import mesh_object
from fault_points import resume, wait_paused


@pytest.fixture
def images_saved_as_files(addon):
    prefs = addon.preferences.addon_preferences()
    prefs.image_storage = "SAVE"
    yield
    prefs.image_storage = "PACK"


def test_an_unsaved_file_saved_mid_job(bpy_module, addon, clean_scene, fault_armed_backend, tiny_marigold,
                                       images_saved_as_files, tmp_path):
    bpy = bpy_module
    mesh_object(bpy, "Slate")
    user_textures = addon.preferences.user_folder("textures")
    before = set(os.listdir(user_textures))
    pause = fault_armed_backend("step:1")
    probe = operator_probe(bpy, addon.operators.texture.ATELIER_OT_generate_texture, prompt="slate",
                           width=64, height=64, steps=2, seed=3, maps={"NORMAL"},
                           maps_model=str(tiny_marigold))
    start(probe, bpy.context)
    wait_paused(pause)
    work = tmp_path / "work.blend"
    assert bpy.ops.wm.save_mainfile(filepath=str(work)) == {"FINISHED"}
    assert probe._job in addon.client.session.active_jobs()  # saving is no reason to stop
    stored = names_in_file(bpy, work)
    assert stored["materials"] == [] and stored["images"] == [] and stored["objects"] == ["Slate"]

    resume(pause)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    assert probe._texture_result is not None  # the maps job followed
    material = bpy.data.objects["Slate"].active_material
    assert material.name == "slate"
    images = {image.name: image for image in bpy.data.images}
    assert set(images) == {"slate", "slate normal"}
    assert all(image.packed_file is None and image.filepath.startswith("//textures/")
               for image in images.values())
    assert sorted(os.listdir(tmp_path / "textures")) == ["slate.png", "slate_normal.png"]
    assert set(os.listdir(user_textures)) == before  # not where an unsaved file's images go

    assert bpy.ops.wm.save_mainfile() == {"FINISHED"}
    stored = names_in_file(bpy, work)
    assert stored["materials"] == ["slate"] and stored["images"] == ["slate", "slate normal"]
    bpy.ops.wm.open_mainfile(filepath=str(work))
    assert all(image.has_data or image.size[0] == 64 for image in bpy.data.images)
