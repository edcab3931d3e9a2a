"""``atelier.project_texture`` refuses bad input with a clear error and the scene as it was:
everything here is caught in Blender before any view is rendered or any job sent."""

from __future__ import annotations

import pytest
from project_scenes import cube, project_state


def refusal(bpy, **kwargs) -> str:
    """Call the operator expecting a refusal; the error it reports (the scene checked unchanged)."""
    kwargs.setdefault("prompt", "weathered bronze")
    before = project_state(bpy)
    with pytest.raises(RuntimeError) as refused:
        bpy.ops.atelier.project_texture(**kwargs)
    assert project_state(bpy) == before
    message = str(refused.value)
    assert "Traceback" not in message
    return message


def test_no_mesh_selected(bpy_module, clean_scene, backend_env):
    bpy = bpy_module
    cube(bpy).select_set(False)
    bpy.context.view_layer.objects.active = None
    assert "no mesh is selected; select the mesh objects to paint" in refusal(bpy)


def test_only_a_non_mesh_selected(bpy_module, clean_scene, backend_env):
    bpy = bpy_module
    bpy.ops.object.empty_add()
    assert "no mesh is selected" in refusal(bpy)
    bpy.ops.curve.primitive_bezier_curve_add()
    curve = bpy.context.active_object.name
    assert f"{curve!r} is a curve; projection paints mesh objects" in refusal(bpy, target=curve)
    assert "there is no object named 'Nothing'" in refusal(bpy, target="Nothing")


def test_a_mesh_with_no_faces(bpy_module, clean_scene, backend_env):
    bpy = bpy_module
    mesh = bpy.data.meshes.new("Edges")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0)], [(0, 1), (1, 2)], [])
    obj = bpy.data.objects.new("Edges", mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    assert "'Edges' has no faces (modifiers applied): there is no surface to paint" in refusal(bpy)


def test_faces_made_by_a_modifier_count(bpy_module, clean_scene, backend_env, monkeypatch, nothing_rendered):
    """Six faces in the mesh, 384 once subdivided: the limit applies to what renders."""
    bpy = bpy_module
    modifier = cube(bpy).modifiers.new("Subdivision", "SUBSURF")
    modifier.levels = modifier.render_levels = 3
    monkeypatch.setenv("ATELIER_MAX_PROJECT_FACES", "100")
    message = refusal(bpy)
    assert "the meshes have 384 faces (modifiers applied), more than the limit of 100" in message
    assert "ATELIER_MAX_PROJECT_FACES" in message
    assert nothing_rendered == []  # refused before anything was rendered


def test_all_selected_meshes_count_together(bpy_module, clean_scene, backend_env, monkeypatch):
    bpy = bpy_module
    cube(bpy, "A")
    cube(bpy, "B", location=(3, 0, 0))
    bpy.data.objects["A"].select_set(True)
    monkeypatch.setenv("ATELIER_MAX_PROJECT_FACES", "11")
    assert "the meshes have 12 faces (modifiers applied), more than the limit of 11" in refusal(bpy)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"prompt": "  "}, "the prompt is empty; describe the object"),
    ({"views": 0}, "views 0 is out of range; use 1 to 16"),
    ({"views": 17}, "views 17 is out of range; use 1 to 16"),
    ({"view_size": 100}, "view_size 100 does not fit; use a multiple of 16 from 64 to"),
    ({"view_size": 32}, "view_size 32 does not fit"),
    ({"texture_size": 16}, "texture_size 16 is out of range; use 64 to"),
    ({"seed": -2}, "seed -2 is out of range"),
    ({"model": "builtin"}, "the built-in engine cannot paint from depth"),
    ({"style": "no-such-style"}, "no-such-style"),
    ({"uv_map": "Missing"}, "'Cube' has no UV map named 'Missing' (it has 'UVMap')"),
])
def test_settings_refused_before_rendering(bpy_module, clean_scene, backend_env, kwargs, expected):
    cube(bpy_module)
    assert expected in refusal(bpy_module, **kwargs)

