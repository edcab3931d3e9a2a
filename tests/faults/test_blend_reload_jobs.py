"""A file loaded while Derive Maps, a projection chain, a batch or Refine runs on the UI's path
(the same file again, reverted, or another one): every job is cancelled saying why, no later job
of the chain or batch starts, nothing reaches the loaded file even once the backend's answers
arrive, every job and input folder goes, and the same backend serves the next job. One way of
loading per operator (the texture job's tests reload the same file)."""

from __future__ import annotations

import json

from blend_jobs import next_job_works, operator_probe, picture_scene, run_and_load, two_files
from blender_helpers import mesh_object


def test_derive_maps_while_its_file_is_being_written(bpy_module, addon, clean_scene, fault_armed_backend,
                                                     tiny_marigold, tmp_path):
    bpy = bpy_module
    _work, other = two_files(bpy, tmp_path, picture_scene)
    probe = operator_probe(bpy, addon.operators.maps.ATELIER_OT_derive_maps, material="Picture",
                           maps={"NORMAL"}, maps_model=str(tiny_marigold))
    _jobs, pid = run_and_load(bpy, addon, probe, fault_armed_backend("write:1"), other)
    assert probe._input_folder is None  # the copy of the picture sent went too
    next_job_works(bpy, addon.client.session, pid)


def test_a_projection_chain_between_its_views(bpy_module, addon, clean_scene, fault_armed_backend,
                                              tiny_controlnet, quick_style, tmp_path):
    bpy = bpy_module
    work, _other = two_files(bpy, tmp_path, lambda bpy: mesh_object(bpy, "Statue", uvs=False))
    probe = operator_probe(bpy, addon.operators.project.ATELIER_OT_project_texture, prompt="granite",
                           views=2, view_size=64, texture_size=64, seed=3, maps=set(),
                           control_model=str(tiny_controlnet), style=quick_style)
    # Stopped once the first view's picture is sent: the chain's next view would start on it.
    jobs, pid = run_and_load(bpy, addon, probe, fault_armed_backend("result"), work)
    assert [job.label for job in jobs] == ["projection 'granite' view 1"]
    assert probe._run is None and not probe._folder.exists()
    next_job_works(bpy, addon.client.session, pid)


def test_a_batch_with_items_not_sent_yet(bpy_module, addon, clean_scene, fault_armed_backend, tmp_path):
    bpy = bpy_module

    def three_objects(bpy):
        settings = bpy.context.scene.atelier.texture
        settings.width = settings.height = 64
        settings.steps = 2
        made = [mesh_object(bpy, name) for name in ("Slate", "Moss", "Rust")]
        for obj in made:  # each new cube was the only one selected
            obj.select_set(True)

    two_files(bpy, tmp_path, three_objects)
    report = tmp_path / "batch.json"
    probe = operator_probe(bpy, addon.operators.batch.ATELIER_OT_batch_textures, seed=4,
                           report_path=str(report))
    jobs, pid = run_and_load(bpy, addon, probe, fault_armed_backend("step:1"), None)  # File > Revert
    assert len(jobs) == 2  # the third item waited its turn; it is never sent
    assert {item["status"] for item in json.loads(report.read_text())["items"]} == {"cancelled"}
    next_job_works(bpy, addon.client.session, pid)


def test_refine_in_the_middle_of_denoising(bpy_module, addon, clean_scene, fault_armed_backend, tmp_path):
    bpy = bpy_module
    _work, other = two_files(bpy, tmp_path, picture_scene)
    probe = operator_probe(bpy, addon.operators.refine.ATELIER_OT_refine_texture, material="Picture",
                           prompt="moss", strength=0.5, steps=4, seed=1)
    _jobs, pid = run_and_load(bpy, addon, probe, fault_armed_backend("step:1"), other)
    assert probe._input_folder is None
    next_job_works(bpy, addon.client.session, pid)
