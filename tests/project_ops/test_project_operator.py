"""``atelier.project_texture`` in real Blender with the real backend, the tiny SD model and a
tiny depth ControlNet: meshes selected together share the views, each gets its own texture on
its own UV map, the views stay in a hidden collection, and PBR maps follow when asked."""

from __future__ import annotations

import json

import numpy as np
from project_scenes import cube, project_state

# No maps unless a test asks (not passed, ``maps`` is the 'Default Maps' preference).
SMALL = {"view_size": 64, "texture_size": 64, "seed": 3, "maps": set()}


def project(bpy, style: str, control_model: str, **kwargs) -> set[str]:
    """The operator at test size (64 px views and textures) with ``style``'s few steps."""
    return bpy.ops.atelier.project_texture(style=style, control_model=control_model, **{**SMALL, **kwargs})


def image_on(material):
    """(the picture on Base Color, the UV map its UV Map node reads)."""
    nodes = material.node_tree.nodes
    texture = nodes.get("Atelier Base Color")  # where maps were added; else the one Image Texture
    if texture is None:
        (texture,) = [n for n in nodes if n.bl_idname == "ShaderNodeTexImage"]
    source = texture.inputs["Vector"].links[0].from_node
    while source.bl_idname == "ShaderNodeMapping":  # the maps put a Mapping node in between
        source = source.inputs["Vector"].links[0].from_node
    assert source.bl_idname == "ShaderNodeUVMap"
    return texture.image, source.uv_map


def test_two_meshes_share_the_views(bpy_module, addon, clean_scene, control_env, quick_style, capfd,
                                    tmp_path):
    bpy = bpy_module
    near = cube(bpy, "Near")
    far = cube(bpy, "Far", location=(3.0, 0.0, 0.0), uvs=False)
    near.select_set(True)
    capfd.readouterr()
    assert project(bpy, quick_style, control_env, prompt="weathered bronze", views=4) == {"FINISHED"}
    report = capfd.readouterr().out
    assert "from 4 views" in report and "of texels unseen (filled)" in report

    collection = bpy.data.collections["weathered bronze"]
    assert collection.hide_viewport and collection.hide_render
    cameras = [obj for obj in collection.objects if obj.type == "CAMERA"]
    assert len(cameras) == 4
    for camera in cameras:  # each view's picture, named after its camera, kept in the file
        view = next(i for i in bpy.data.images if camera.name in i.name)
        assert tuple(view.size) == (64, 64) and view.packed_file is not None
        assert [b.image for b in camera.data.background_images] == [view]  # its user in the file
    views = sorted(i.name for i in bpy.data.images if " View " in i.name)
    bpy.ops.wm.save_mainfile(filepath=str(tmp_path / "views.blend"))
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "views.blend"))
    assert sorted(i.name for i in bpy.data.images if " View " in i.name) == views and len(views) == 4
    near, far = bpy.data.objects["Near"], bpy.data.objects["Far"]
    collection = bpy.data.collections["weathered bronze"]

    # One texture per mesh, each on its own UV map: the artist's, or "Atelier" made for it.
    assert far.data.uv_layers.keys() == ["Atelier"] and near.data.uv_layers.keys() == ["UVMap"]
    for obj, uv_map in ((near, "UVMap"), (far, "Atelier")):
        material = obj.active_material
        assert material.name == f"weathered bronze {obj.name}"
        image, read = image_on(material)
        assert read == uv_map and tuple(image.size) == (64, 64) and image.packed_file is not None
        record = json.loads(image["atelier_provenance"])
        assert record["task"] == "project" and record["parameters"]["views"] == 4
        assert record["parameters"]["uv_map"] == uv_map
        assert record["parameters"]["views_collection"] == collection.name
        pixels = np.empty(64 * 64 * 4, np.float32)
        image.pixels.foreach_get(pixels)
        assert pixels.reshape(-1, 4)[:, :3].std() > 0.01  # painted, not one flat colour
    entries = {(h.kind, h.material_name, h.targets) for h in bpy.context.scene.atelier.history}
    assert entries == {("PROJECT", "weathered bronze Near", "Near"),
                       ("PROJECT", "weathered bronze Far", "Far")}
    # A prompt alone does not make a projection again: the history's Regenerate says so.
    reason = addon.operators.texture_history.not_regenerable(bpy.context.scene.atelier.history[-1])
    assert "was painted onto Far from several views" in reason and "Project panel" in reason


def test_the_named_uv_map_is_painted_and_the_others_kept(bpy_module, clean_scene, control_env, quick_style):
    bpy = bpy_module
    obj = cube(bpy)
    second = obj.data.uv_layers.new(name="Second")
    obj.data.uv_layers.active = obj.data.uv_layers["UVMap"]
    assert second.name == "Second"
    assert project(bpy, quick_style, control_env, prompt="moss", views=2, uv_map="Second") == {"FINISHED"}
    assert image_on(obj.active_material)[1] == "Second"
    assert obj.data.uv_layers.keys() == ["UVMap", "Second"] and obj.data.uv_layers.active.name == "UVMap"


def test_classic_maps_join_the_material(bpy_module, clean_scene, control_env, quick_style, capfd):
    bpy = bpy_module
    obj = cube(bpy)
    capfd.readouterr()
    assert project(bpy, quick_style, control_env, prompt="rusty iron", views=2, maps={"NORMAL", "ROUGHNESS"},
                   maps_model="classic") == {"FINISHED"}
    assert "maps normal, roughness (classic)" in capfd.readouterr().out
    nodes = obj.active_material.node_tree.nodes
    assert nodes["Atelier normal map"].image is not None and nodes["Atelier roughness map"].image is not None
    assert image_on(obj.active_material)[1] == "UVMap"  # the maps share the projection's UV map
    assert {m.role for m in bpy.context.scene.atelier.history[-1].maps} == {"normal", "roughness"}


def test_overlapping_uvs_are_a_warning(bpy_module, clean_scene, control_env, quick_style, capfd):
    """Every face on the same UV square: the result comes, with a warning saying what to fix."""
    bpy = bpy_module
    obj = cube(bpy)
    corners = [(0, 0), (1, 0), (1, 1), (0, 1)]
    for polygon in obj.data.polygons:
        for corner, loop in zip(corners, polygon.loop_indices, strict=True):
            obj.data.uv_layers["UVMap"].uv[loop].vector = corner
    capfd.readouterr()
    assert project(bpy, quick_style, control_env, prompt="slate", views=2) == {"FINISHED"}
    out = capfd.readouterr().out
    assert "overlapping UVs on 'Cube' (100% of UV map 'UVMap')" in out
    assert "UV > Smart UV Project" in out


def test_clean_uvs_give_no_warning(bpy_module, clean_scene, control_env, quick_style, capfd):
    bpy = bpy_module
    cube(bpy)
    capfd.readouterr()
    assert project(bpy, quick_style, control_env, prompt="slate", views=2) == {"FINISHED"}
    assert "overlapping UVs" not in capfd.readouterr().out


def test_maps_from_the_backend_for_each_mesh(bpy_module, clean_scene, control_env, quick_style, tiny_marigold,
                                             capfd):
    """After the last view, one maps job per mesh in the same chain, before anything is applied."""
    bpy = bpy_module
    first = cube(bpy, "First")
    second = cube(bpy, "Second", location=(3.0, 0.0, 0.0))
    first.select_set(True)
    capfd.readouterr()
    assert project(bpy, quick_style, control_env, prompt="oak", views=2, maps={"NORMAL"},
                   maps_model=str(tiny_marigold)) == {"FINISHED"}
    out = capfd.readouterr().out
    assert "maps of 'oak'" in out and "maps normal (marigold)" in out
    for obj in (first, second):
        normal = obj.active_material.node_tree.nodes["Atelier normal map"].image
        assert normal is not None and normal["atelier_role"] == "normal"
    assert {h.maps[0].engine for h in bpy.context.scene.atelier.history} == {"marigold"}


def test_one_undo_takes_it_all_back(bpy_module, clean_scene, control_env, quick_style):
    bpy = bpy_module
    cube(bpy, uvs=False)
    bpy.ops.ed.undo_push(message="init")
    before = project_state(bpy)
    outcome = bpy.ops.atelier.project_texture("EXEC_DEFAULT", True, prompt="tin", views=2,
                                              control_model=control_env, style=quick_style, **SMALL)
    assert outcome == {"FINISHED"}
    assert project_state(bpy) != before
    bpy.ops.ed.undo()
    assert project_state(bpy) == before


def test_maps_not_named_are_the_default_maps_preference(bpy_module, clean_scene, control_env, quick_style):
    """Like a generated texture: the 'Default Maps' preference (normal, height, roughness, AO, by
    the classic engine unless set otherwise)."""
    bpy = bpy_module
    obj = cube(bpy)
    kwargs = {key: value for key, value in SMALL.items() if key != "maps"}
    assert bpy.ops.atelier.project_texture(prompt="clay", views=2, control_model=control_env,
                                           style=quick_style, **kwargs) == {"FINISHED"}
    roles = {m.role for m in bpy.context.scene.atelier.history[-1].maps}
    assert roles == {"normal", "height", "roughness", "ao"}
    assert image_on(obj.active_material)[1] == "UVMap"
