"""A projection that ends without a result leaves the scene as it was: Esc in the middle of the
chain, and a texture model for which no depth ControlNet is at hand (the error names what to
download). No material, no views, no new UV map, no work files stay behind."""

from __future__ import annotations

import os

from project_scenes import cube, project_state


def work_folders(addon) -> set[str]:
    """The projection work folders in Atelier's jobs folder."""
    return {name for name in os.listdir(addon.preferences.user_folder("jobs")) if name.startswith("project-")}


def test_esc_on_the_second_view_leaves_nothing(bpy_module, addon, clean_scene, control_env, quick_style,
                                               monkeypatch, capfd):
    bpy = bpy_module
    session = addon.client.session
    cube(bpy, "Painted")
    cube(bpy, "Unwrapped", location=(3.0, 0.0, 0.0), uvs=False)  # gets "Atelier" while it runs
    bpy.data.objects["Painted"].select_set(True)
    operator = addon.operators.project.ATELIER_OT_project_texture
    seen = []

    def press_esc_on_view_2(job):
        """Stands in for the progress print of ``execute``: Esc once view 2 is painting."""
        seen.append(job.label)
        if job.label.endswith("view 2") and job.step >= 1 and not job.cancel_requested:
            session.cancel(session.current_client(), job)

    monkeypatch.setattr(operator, "_print_progress", staticmethod(press_esc_on_view_2))
    before, folders = project_state(bpy), work_folders(addon)
    capfd.readouterr()
    assert bpy.ops.atelier.project_texture(prompt="granite", views=4, view_size=64, texture_size=64,
                                           style=quick_style, control_model=control_env) == {"CANCELLED"}
    assert "cancelled" in capfd.readouterr().out
    assert any(label.endswith("view 1") for label in seen)  # view 1 was painted and baked first
    assert project_state(bpy) == before
    assert work_folders(addon) == folders
    assert not any(name.startswith("granite") for name in bpy.data.images.keys())


def test_no_depth_controlnet_for_the_model_names_the_download(bpy_module, addon, clean_scene, backend_env,
                                                              quick_style):
    """The tiny SD model's family has no ControlNet in the cache (nothing is downloaded here)."""
    bpy = bpy_module
    cube(bpy, uvs=False)
    before, folders = project_state(bpy), work_folders(addon)
    try:
        bpy.ops.atelier.project_texture(prompt="granite", views=2, view_size=64, texture_size=64,
                                        style=quick_style)
    except RuntimeError as exc:
        message = str(exc)
    else:
        raise AssertionError("the projection ran without a depth ControlNet")
    # The tiny model reads 32-wide prompt embeddings: the table's SD ControlNets are named, and how
    # to set one that fits.
    assert "no depth ControlNet fits texture model" in message, message
    assert "lllyasviel/control_v11f1p_sd15_depth" in message and "ATELIER_CONTROL_MODEL" in message
    assert "Traceback" not in message
    assert project_state(bpy) == before
    assert work_folders(addon) == folders


def test_a_mesh_deleted_while_it_runs_undoes_every_mesh(bpy_module, addon, clean_scene, control_env,
                                                         quick_style, monkeypatch):
    """The result cannot go on a mesh deleted meanwhile: the other mesh's material, made first,
    goes again too, with the views; no half result."""
    bpy = bpy_module
    cube(bpy, "Kept")
    cube(bpy, "Deleted", location=(3.0, 0.0, 0.0))
    bpy.data.objects["Kept"].select_set(True)
    operator = addon.operators.project.ATELIER_OT_project_texture

    def delete_on_view_2(job):
        if job.label.endswith("view 2") and "Deleted" in bpy.data.objects:
            bpy.data.objects.remove(bpy.data.objects["Deleted"])

    monkeypatch.setattr(operator, "_print_progress", staticmethod(delete_on_view_2))
    before = project_state(bpy)
    try:
        bpy.ops.atelier.project_texture(prompt="basalt", views=2, view_size=64, texture_size=64, maps=set(),
                                        style=quick_style, control_model=control_env)
    except RuntimeError as exc:
        message = str(exc)
    else:
        raise AssertionError("the result was applied to a deleted mesh")
    assert "the object 'Deleted' no longer exists; nothing was changed" in message
    after = project_state(bpy)
    for key in ("collections", "cameras", "materials", "images", "history"):
        assert after[key] == before[key], key
    assert after["slots"]["Kept"] == [] and after["uv_maps"]["Kept"] == before["uv_maps"]["Kept"]
