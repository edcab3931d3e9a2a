"""What a projection leaves on its meshes: the texture in every material slot, normal maps on
the projection's UV map, view images stored like generated ones, a history entry that fits its
own meshes only, and an overlap warning that does not advise what Atelier has just done."""

from __future__ import annotations

from pathlib import Path

from project_scenes import cube

SMALL = {"view_size": 64, "texture_size": 64, "seed": 3, "maps": set()}


def project(bpy, style: str, control_model: str, **kwargs) -> set[str]:
    return bpy.ops.atelier.project_texture(style=style, control_model=control_model, **{**SMALL, **kwargs})


def overlapping(obj, uv_map: str) -> None:
    """Every face of ``obj`` on the whole UV square of ``uv_map``."""
    corners = [(0, 0), (1, 0), (1, 1), (0, 1)]
    for polygon in obj.data.polygons:
        for corner, loop in zip(corners, polygon.loop_indices, strict=True):
            obj.data.uv_layers[uv_map].uv[loop].vector = corner


def test_every_material_slot_gets_the_texture(bpy_module, clean_scene, control_env, quick_style):
    """The texture covers the whole mesh: faces of a second slot show it too; one undo takes
    every slot back."""
    bpy = bpy_module
    obj = cube(bpy)
    for name in ("One", "Two"):
        obj.data.materials.append(bpy.data.materials.new(name))
    for number, polygon in enumerate(obj.data.polygons):
        polygon.material_index = number % 2
    bpy.ops.ed.undo_push(message="slots")
    assert bpy.ops.atelier.project_texture("EXEC_DEFAULT", True, prompt="slots", views=2, style=quick_style,
                                           control_model=control_env, **SMALL) == {"FINISHED"}
    obj = bpy.data.objects["Cube"]
    assert [slot.material.name for slot in obj.material_slots] == ["slots", "slots"]
    bpy.ops.ed.undo()
    obj = bpy.data.objects["Cube"]
    assert [slot.material.name for slot in obj.material_slots] == ["One", "Two"]


def test_normal_maps_use_the_projection_uv_map(bpy_module, clean_scene, control_env, quick_style):
    """Tangents come from a UV map: the normal map's must be the one it was painted in, not the
    mesh's active one."""
    bpy = bpy_module
    obj = cube(bpy)
    obj.data.uv_layers.new(name="Second")
    obj.data.uv_layers.active = obj.data.uv_layers["UVMap"]
    assert project(bpy, quick_style, control_env, prompt="iron", views=2, uv_map="Second", maps={"NORMAL"},
                   maps_model="classic") == {"FINISHED"}
    normal_maps = [n for n in obj.active_material.node_tree.nodes if n.bl_idname == "ShaderNodeNormalMap"]
    assert normal_maps and {n.uv_map for n in normal_maps} == {"Second"}


def test_view_images_follow_the_image_storage_preference(bpy_module, addon, clean_scene, control_env,
                                                         quick_style, monkeypatch):
    bpy = bpy_module
    cube(bpy)
    monkeypatch.setattr(addon.preferences, "image_storage", lambda: "SAVE")
    assert project(bpy, quick_style, control_env, prompt="saved views", views=2) == {"FINISHED"}
    cameras = bpy.data.collections["saved views"].objects
    views = [image for image in bpy.data.images if any(c.name in image.name for c in cameras)]
    assert len(views) == 2
    for image in views:
        assert image.packed_file is None and Path(image.filepath_from_user()).is_file()


def test_a_projection_entry_goes_back_on_its_own_meshes_only(bpy_module, clean_scene, control_env,
                                                             quick_style):
    bpy = bpy_module
    painted = cube(bpy, "Painted")
    assert project(bpy, quick_style, control_env, prompt="baked", views=2) == {"FINISHED"}
    other = cube(bpy, "Other", location=(3.0, 0.0, 0.0))
    try:
        bpy.ops.atelier.texture_history_apply(index=0)
    except RuntimeError as exc:
        message = str(exc)
    else:
        raise AssertionError("a projection's material went on a mesh it was not baked for")
    assert "'baked' was projected onto Painted" in message and "does not fit 'Other'" in message
    assert other.active_material is None

    # Its own mesh, once its UV map is gone, does not fit either.
    painted.active_material = None
    painted.data.uv_layers["UVMap"].name = "Renamed"
    bpy.context.view_layer.objects.active = painted
    other.select_set(False)
    painted.select_set(True)
    try:
        bpy.ops.atelier.texture_history_apply(index=0)
    except RuntimeError as exc:
        message = str(exc)
    else:
        raise AssertionError("a projection's material went on a mesh without its UV map")
    assert "'Painted' has no UV map 'UVMap', which 'baked' is baked into" in message
    painted.data.uv_layers["Renamed"].name = "UVMap"
    assert bpy.ops.atelier.texture_history_apply(index=0) == {"FINISHED"}
    assert painted.active_material.name == "baked"


def test_an_overlap_in_a_map_atelier_made_advises_unwrapping_by_hand(bpy_module, addon, clean_scene):
    bpy = bpy_module
    obj = cube(bpy)
    overlapping(obj, "UVMap")
    warning = addon.operators.project.overlap_warning
    theirs = warning(bpy.context, [obj], {"Cube": "UVMap"})
    ours = warning(bpy.context, [obj], {"Cube": "UVMap"}, unwrapped=[obj])
    assert "UV > Smart UV Project" in theirs
    assert "Smart UV Project" not in ours and "unwrap the mesh by hand (UV > Unwrap" in ours
