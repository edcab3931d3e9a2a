"""``atelier.generate_texture`` with maps, in real Blender with the real backend and tiny models:
which maps a call gets, UV maps for tangent space, and learned maps chained after the texture."""

import json
import os

import pytest
from blender_helpers import mesh_object
from blender_maps import MAP_NODE, image_from_array, picture_material, stripes
from scene_state import scene_state

GENERATE = dict(width=64, height=64, steps=1, seed=3)
ROLES = ("normal", "height", "roughness", "metallic", "ao", "albedo")


def map_roles(material) -> set[str]:
    return {role for role in ROLES if MAP_NODE.format(role) in material.node_tree.nodes}


@pytest.fixture
def preferences(addon, bpy_module):
    """Atelier's preferences; Default Maps and Maps Model are put back after the test."""
    prefs = bpy_module.context.preferences.addons[addon.__name__].preferences
    saved = (set(prefs.default_maps), prefs.maps_model)
    yield prefs
    prefs.default_maps, prefs.maps_model = saved


@pytest.fixture
def left_in_jobs(addon):
    """``left_in_jobs()``: what the test added to Atelier's jobs folder and left there."""
    folder = addon.preferences.user_folder("jobs")
    before = set(os.listdir(folder))
    return lambda: set(os.listdir(folder)) - before


def test_maps_not_passed_are_the_preference_set(bpy_module, clean_scene, backend_env, preferences):
    preferences.default_maps = {"ROUGHNESS", "METALLIC"}
    cube = mesh_object(bpy_module)
    assert bpy_module.ops.atelier.generate_texture(prompt="slate", **GENERATE) == {"FINISHED"}
    assert map_roles(cube.active_material) == {"roughness", "metallic"}
    entry = bpy_module.context.scene.atelier.history[-1]
    assert [m.role for m in entry.maps] == ["roughness", "metallic"]
    assert {m.engine for m in entry.maps} == {"classic"}


def test_maps_passed_empty_give_the_picture_alone(bpy_module, clean_scene, backend_env, preferences):
    preferences.default_maps = {"NORMAL", "ROUGHNESS"}
    cube = mesh_object(bpy_module)
    assert bpy_module.ops.atelier.generate_texture(prompt="slate", maps=set(), **GENERATE) == {"FINISHED"}
    material = cube.active_material
    assert map_roles(material) == set()
    assert [n.bl_idname for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"] == [
        "ShaderNodeTexImage"]
    assert len(bpy_module.context.scene.atelier.history[-1].maps) == 0


def test_a_mesh_without_uvs_gets_the_atelier_uv_map_for_normals(bpy_module, clean_scene, backend_env):
    blob = mesh_object(bpy_module, "Blob", uvs=False)
    bpy_module.ops.atelier.generate_texture(prompt="slate", maps={"NORMAL"}, **GENERATE)
    assert [uv.name for uv in blob.data.uv_layers] == ["Atelier"]
    nodes = blob.active_material.node_tree.nodes
    for name in ("Atelier Base Color", MAP_NODE.format("normal")):
        assert nodes[name].projection == "FLAT"
        assert nodes[name].inputs["Vector"].links[0].from_node.name == "Atelier Mapping"
    assert nodes["Atelier Mapping"].inputs["Vector"].links[0].from_socket.name == "UV"
    # Every face got its own place in the UV square (not every face on the whole square).
    uv = blob.data.uv_layers["Atelier"].data
    assert len({tuple(round(c, 3) for c in loop.uv) for loop in uv}) > 4


def test_without_normal_or_height_box_projection_stays(bpy_module, clean_scene, backend_env):
    blob = mesh_object(bpy_module, "Blob", uvs=False)
    bpy_module.ops.atelier.generate_texture(prompt="slate", maps={"ROUGHNESS", "AO"}, **GENERATE)
    assert len(blob.data.uv_layers) == 0
    nodes = blob.active_material.node_tree.nodes
    for name in ("Atelier Base Color", MAP_NODE.format("roughness"), MAP_NODE.format("ao")):
        assert nodes[name].projection == "BOX"
        assert nodes[name].inputs["Vector"].links[0].from_node.name == "Atelier Mapping"
    assert nodes["Atelier Mapping"].inputs["Vector"].links[0].from_socket.name == "Object"


def test_one_undo_removes_texture_and_maps(bpy_module, clean_scene, backend_env):
    bpy = bpy_module
    blob = mesh_object(bpy, "Blob", uvs=False)
    bpy.ops.ed.undo_push(message="init")
    before = (scene_state(bpy), sorted(i.name for i in bpy.data.images), len(blob.data.uv_layers),
              len(bpy.context.scene.atelier.history))
    assert bpy.ops.atelier.generate_texture("EXEC_DEFAULT", True, prompt="slate", maps={"NORMAL", "AO"},
                                            **GENERATE) == {"FINISHED"}
    assert len(bpy.data.images) == 3
    bpy.ops.ed.undo()
    blob = bpy.data.objects["Blob"]
    assert (scene_state(bpy), sorted(i.name for i in bpy.data.images), len(blob.data.uv_layers),
            len(bpy.context.scene.atelier.history)) == before


# ---------------------------------------------------------------------- learned maps (Marigold)


def test_learned_maps_follow_the_texture_in_one_call(bpy_module, clean_scene, backend_env, tiny_marigold,
                                                      left_in_jobs):
    cube = mesh_object(bpy_module)
    assert bpy_module.ops.atelier.generate_texture(
        prompt="slate", maps={"NORMAL", "ROUGHNESS", "ALBEDO"}, maps_model=str(tiny_marigold),
        **GENERATE) == {"FINISHED"}
    material = cube.active_material
    assert map_roles(material) == {"normal", "roughness", "albedo"}
    entry = bpy_module.context.scene.atelier.history[-1]
    assert entry.material_name == material.name and entry.prompt == "slate"
    assert {(m.engine, m.model) for m in entry.maps} == {("marigold", str(tiny_marigold))}
    record = json.loads(entry.maps_provenance)
    assert record["engine"] == "marigold"
    assert record["parameters"]["maps"] == ["normal", "roughness", "albedo"]
    assert json.loads(entry.provenance)["task"] == "texture"  # the picture's own record stays
    assert left_in_jobs() == set()  # both jobs' folders are gone once applied


def test_a_failed_maps_job_leaves_the_scene_as_it_was(bpy_module, clean_scene, backend_env, tmp_path,
                                                      left_in_jobs):
    incomplete = tmp_path / "marigold-without-depth"
    incomplete.mkdir()
    mesh_object(bpy_module)
    before = (scene_state(bpy_module), sorted(i.name for i in bpy_module.data.images))
    with pytest.raises(RuntimeError) as failed:
        bpy_module.ops.atelier.generate_texture(prompt="slate", maps={"NORMAL"},
                                                maps_model=str(incomplete), **GENERATE)
    assert (scene_state(bpy_module), sorted(i.name for i in bpy_module.data.images)) == before
    assert "Traceback" not in str(failed.value)
    assert left_in_jobs() == set()  # the texture made for it is not left behind


def test_derive_maps_runs_learned_maps_on_a_packed_picture(bpy_module, clean_scene, backend_env,
                                                           tiny_marigold, left_in_jobs):
    _, material = picture_material(bpy_module, image_from_array(bpy_module, stripes()))
    assert bpy_module.ops.atelier.derive_maps(maps={"HEIGHT", "METALLIC"},
                                              maps_model=str(tiny_marigold)) == {"FINISHED"}
    assert map_roles(material) == {"height", "metallic"}
    entry = bpy_module.context.scene.atelier.history[-1]
    assert entry.material_name == "Picture" and entry.image_name == "Picture"
    assert {m.engine for m in entry.maps} == {"marigold"}
    assert left_in_jobs() == set()  # the picture's copy for the backend is gone too
