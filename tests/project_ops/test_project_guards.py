"""Meshes ``atelier.project_texture`` cannot paint as asked are refused before anything is
rendered, with what to change: one mesh shared by several objects, Edit Mode, library data,
instanced collections, UV map names Blender cannot hold, and faces counted as they render."""

from __future__ import annotations

import pytest
from project_scenes import cube, project_state


def refusal(bpy, **kwargs) -> str:
    """Call the operator expecting a refusal; its error (the scene checked unchanged)."""
    kwargs.setdefault("prompt", "weathered bronze")
    before = project_state(bpy)
    with pytest.raises(RuntimeError) as refused:
        bpy.ops.atelier.project_texture(**kwargs)
    assert project_state(bpy) == before
    assert "Traceback" not in str(refused.value)
    return str(refused.value)


def test_objects_sharing_one_mesh_are_refused(bpy_module, clean_scene, backend_env, nothing_rendered):
    bpy = bpy_module
    first = cube(bpy, "A")
    twin = first.copy()  # a linked duplicate (Alt+D): the same mesh
    twin.name = "B"
    bpy.context.scene.collection.objects.link(twin)
    twin.select_set(True)
    expected = ("'A', 'B' share one mesh; make single user (Object > Relations > Make Single User > "
                "Object & Data) or select one")
    assert expected in refusal(bpy)
    twin.select_set(False)  # one of them alone: the material would still show on the other
    assert expected in refusal(bpy)
    assert nothing_rendered == []


def test_a_mesh_in_edit_mode_is_refused(bpy_module, clean_scene, backend_env, nothing_rendered):
    bpy = bpy_module
    cube(bpy)
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        assert "'Cube' is in Edit Mode; switch to Object Mode (Tab)" in refusal(bpy)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    assert nothing_rendered == []


def test_a_mesh_linked_from_a_library_is_refused(bpy_module, clean_scene, backend_env, tmp_path,
                                                 nothing_rendered):
    bpy = bpy_module
    cube(bpy, "Shelf")
    library = tmp_path / "library.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(library), copy=True)
    bpy.data.objects.remove(bpy.data.objects["Shelf"])
    with bpy.data.libraries.load(str(library), link=True) as (_source, linked):
        linked.objects = ["Shelf"]
    shelf = linked.objects[0]
    bpy.context.scene.collection.objects.link(shelf)
    shelf.select_set(True)
    bpy.context.view_layer.objects.active = shelf
    assert "'Shelf' is linked from a library and cannot be changed in this file" in refusal(bpy)
    assert nothing_rendered == []


def test_an_instanced_collection_is_named(bpy_module, clean_scene, backend_env):
    bpy = bpy_module
    cube(bpy, "Chair")
    group = bpy.data.collections.new("Chairs")
    group.objects.link(bpy.data.objects["Chair"])
    bpy.context.scene.collection.objects.unlink(bpy.data.objects["Chair"])
    instance = bpy.data.objects.new("Chairs instance", None)
    instance.instance_type, instance.instance_collection = "COLLECTION", group
    bpy.context.scene.collection.objects.link(instance)
    instance.select_set(True)
    bpy.context.view_layer.objects.active = instance
    message = refusal(bpy)
    assert "'Chairs instance' instances a collection, and instanced collections are not painted" in message
    assert "Make Instances Real" in message


def test_a_uv_map_name_longer_than_blender_keeps(bpy_module, clean_scene, backend_env):
    cube(bpy_module)
    message = refusal(bpy_module, uv_map="U" * 64)
    assert "is 64 bytes long; Blender's UV map names are at most 63 bytes" in message


def test_faces_are_counted_at_the_render_levels(bpy_module, clean_scene, backend_env, monkeypatch,
                                                nothing_rendered):
    """Level 0 in the viewport (6 faces), 3 in renders (384): the projection paints what renders."""
    bpy = bpy_module
    modifier = cube(bpy).modifiers.new("Subdivision", "SUBSURF")
    modifier.levels, modifier.render_levels = 0, 3
    monkeypatch.setenv("ATELIER_MAX_PROJECT_FACES", "100")
    assert "the meshes have 384 faces (modifiers applied), more than the limit of 100" in refusal(bpy)
    assert (modifier.levels, modifier.render_levels) == (0, 3)
    assert nothing_rendered == []
