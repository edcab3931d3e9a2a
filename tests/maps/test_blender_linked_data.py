"""Data linked from a library cannot be changed in the file that links it (Blender's Python lets
some changes through in memory only, others raise): every operator that changes a material, its
slot or its mesh refuses linked data before anything is sent to the backend, says how to make it
local, and leaves the scene as it was. What can be changed still is: a local object showing a
linked material takes a new one in its slot."""

from __future__ import annotations

import numpy as np
import pytest
from blender_helpers import operator_refusal
from blender_maps import image_from_array, picture_material, stripes
from scene_state import datablock_state

LINKED = "is linked from a library and cannot be changed in this file"
MAKE_LOCAL = "Object > Relations > Make Local > Selected Objects, Data and Materials"


@pytest.fixture
def library(bpy_module, clean_scene, tmp_path):
    """lib.blend: a plane 'Tile' (mesh 'Plane', with a UV map) whose material 'Bricks' shows the
    packed picture 'Bricks', and a mesh 'Bare' with no UV map and one empty material slot. The
    scene is empty again afterwards, with a mask image 'Mask' for inpainting. Returns the
    library's path."""
    bpy = bpy_module
    obj, _material = picture_material(bpy, image_from_array(bpy, stripes(), "Bricks"), "Bricks")
    obj.name = "Tile"
    bpy.ops.mesh.primitive_plane_add(calc_uvs=False)
    bare = bpy.context.active_object
    bare.name = bare.data.name = "Bare"
    bare.data.materials.append(None)
    path = tmp_path / "lib.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    mask = np.zeros((64, 64, 4), np.float32)
    mask[16:40, 16:40] = 1.0
    bpy.data.images.new("Mask", 64, 64).pixels.foreach_set(mask.ravel())
    return path


@pytest.fixture
def submitted(addon, monkeypatch) -> list:
    """Every request sent to the backend (sent on as usual); a refusal leaves it empty."""
    session = addon.client.session
    sent, submit = [], session.submit

    def recorded(client, request, **kwargs):
        sent.append(request)
        return submit(client, request, **kwargs)

    monkeypatch.setattr(session, "submit", recorded)
    return sent


def linked(bpy, path, kind: str, name: str):
    """The datablock ``name`` of ``kind`` ('objects', 'materials', ...) linked from ``path``."""
    with bpy.data.libraries.load(str(path), link=True) as (_source, found):
        setattr(found, kind, [name])
    return getattr(found, kind)[0]


def show(bpy, obj):
    """``obj`` in the scene, selected and active."""
    if bpy.context.scene.collection.objects.get(obj.name) is None:
        bpy.context.scene.collection.objects.link(obj)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    return obj


def linked_object(bpy, path):
    """The linked 'Tile' (object, mesh and material all in the library)."""
    return show(bpy, linked(bpy, path, "objects", "Tile"))


def overridden_object(bpy, path):
    """A library override of 'Tile': the object is editable, its mesh and material stay linked."""
    override = linked(bpy, path, "objects", "Tile").override_create(remap_local_usages=True)
    return show(bpy, override)


def state(bpy) -> dict:
    """What a refused call must leave as it was: datablocks, slots, the pictures materials show,
    UV maps, the history."""
    return {
        **datablock_state(bpy),
        "shown": sorted((m.name, n.name, n.image.name) for m in bpy.data.materials if m.node_tree
                        for n in m.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage" and n.image),
        "uv_maps": {m.name: [uv.name for uv in m.uv_layers] for m in bpy.data.meshes},
        "history": [(h.name, h.material_name, h.image_name) for h in bpy.context.scene.atelier.history],
    }


def refusal(bpy, operator: str, **kwargs) -> str:
    """Call ``operator`` expecting a refusal; its message (the scene checked unchanged)."""
    return operator_refusal(bpy, state, operator, **kwargs)


# (operator, its arguments) for every operator that changes a material, its slot or its mesh.
CALLS = {
    "generate_texture": ("generate_texture", {"prompt": "red brick wall", "width": 64, "height": 64,
                                              "steps": 2, "maps": set()}),
    "generate_builtin": ("generate_texture", {"prompt": "red brick wall", "model": "builtin"}),
    "refine_texture": ("refine_texture", {"steps": 2}),
    "upscale_texture": ("upscale_texture", {}),
    "inpaint_texture": ("inpaint_texture", {"mask": "Mask"}),
    "derive_maps": ("derive_maps", {"maps": {"NORMAL", "ROUGHNESS"}, "maps_model": "marigold"}),
    "derive_maps_classic": ("derive_maps", {"maps": {"NORMAL", "ROUGHNESS"}, "maps_model": "classic"}),
    "bake_material": ("bake_material", {"size": 16, "samples": 1}),
}
# What each refusal names: the object's slots (and mesh), the material, or all three (a bake).
FOR_LINKED_OBJECT = {"generate_texture": "'Tile'", "generate_builtin": "'Tile'", "bake_material": "'Tile'"}
FOR_OVERRIDE = {"generate_texture": "the mesh 'Plane'", "generate_builtin": "the mesh 'Plane'",
                "bake_material": "the mesh 'Plane'"}
MATERIAL = "the material 'Bricks'"


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(("make", "names"), [(linked_object, FOR_LINKED_OBJECT),
                                             (overridden_object, FOR_OVERRIDE)],
                         ids=["linked object", "library override"])
def test_linked_data_is_refused_before_anything_is_sent(bpy_module, library, backend_env, submitted,
                                                        tmp_path, call, make, names):
    bpy = bpy_module
    make(bpy, library)
    operator, kwargs = CALLS[call]
    if operator == "bake_material":
        kwargs = {**kwargs, "directory": str(tmp_path / "baked")}
    message = refusal(bpy, operator, **kwargs)
    assert f"{names.get(call, MATERIAL)} {LINKED}" in message
    assert MAKE_LOCAL in message
    assert submitted == []
    assert not (tmp_path / "baked").exists()


def test_an_image_shown_by_a_linked_material_is_refused(bpy_module, library, backend_env, submitted):
    """Upscaling an image by name changes every material showing it: with a linked one among
    them (beside a local one), nothing is changed."""
    bpy = bpy_module
    linked_object(bpy, library)
    picture = bpy.data.images["Bricks"]  # linked with its material
    picture_material(bpy, picture, "Local")
    assert f"{MATERIAL} {LINKED}" in refusal(bpy, "upscale_texture", image="Bricks")
    assert submitted == []


def test_a_local_object_showing_a_linked_material_takes_a_new_one(bpy_module, library, backend_env,
                                                                  tmp_path):
    """The slot of a local object is its own: a new material goes in; the linked one is refused
    as the material to change."""
    bpy = bpy_module
    bpy.ops.mesh.primitive_plane_add()
    local = bpy.context.active_object
    local.data.materials.append(linked(bpy, library, "materials", "Bricks"))
    assert f"{MATERIAL} {LINKED}" in refusal(bpy, "refine_texture", steps=2)
    # Cycles would bake into an image node the linked material does not keep: a blank file.
    assert f"{MATERIAL} {LINKED}" in refusal(bpy, "bake_material", directory=str(tmp_path), size=16,
                                              samples=1)
    assert bpy.ops.atelier.generate_texture(prompt="red brick wall", model="builtin") == {"FINISHED"}
    assert local.active_material.name != "Bricks" and local.active_material.library is None


def test_made_local_as_the_message_says_it_can_be_changed(bpy_module, library, backend_env):
    bpy = bpy_module
    obj = linked_object(bpy, library)
    refusal(bpy, "derive_maps", maps={"ROUGHNESS"}, maps_model="classic")
    bpy.ops.object.make_local(type="SELECT_OBDATA_MATERIAL")
    obj = bpy.context.active_object
    assert obj.library is None and obj.active_material.library is None
    assert bpy.ops.atelier.derive_maps(maps={"ROUGHNESS"}, maps_model="classic") == {"FINISHED"}
    assert obj.active_material["atelier_maps"] == "roughness"


@pytest.mark.parametrize("maps_model", ["classic", "marigold"])
def test_a_linked_mesh_that_needs_a_uv_map_is_refused(bpy_module, library, backend_env, submitted,
                                                      maps_model):
    """Normal maps need a UV map on every mesh showing the material: a linked mesh cannot get
    one, even under a local object showing a local material."""
    bpy = bpy_module
    _, material = picture_material(bpy, image_from_array(bpy, stripes(), "Local"), "Local")
    local = show(bpy, bpy.data.objects.new("Local", linked(bpy, library, "meshes", "Bare")))
    local.material_slots[0].link = "OBJECT"  # the slot's material is the object's own
    local.material_slots[0].material = material
    message = refusal(bpy, "derive_maps", material="Local", maps={"NORMAL"}, maps_model=maps_model)
    assert f"the mesh 'Bare' {LINKED}" in message
    assert submitted == []


def test_re_apply_and_live_preview_refuse_a_linked_object(bpy_module, addon, library, backend_env,
                                                          submitted):
    """The two other ways a material reaches the selection: a history entry put on it again, and
    the live preview's temporary material."""
    bpy, live = bpy_module, addon.operators.live_preview
    obj = linked_object(bpy, library)
    scene = bpy.context.scene
    entry = scene.atelier.history.add()
    entry.material_name = bpy.data.materials.new("Earlier").name
    assert f"'Tile' {LINKED}" in refusal(bpy, "texture_history_apply", index=0)
    scene.atelier.texture.prompt = "granite"
    before = state(bpy)
    with pytest.raises(addon.client.session.ApplyError, match=LINKED):
        live.start(bpy.context)
    assert not live.is_on() and state(bpy) == before and submitted == []
    assert obj.active_material.name == "Bricks"


def test_an_override_whose_slot_is_its_own_takes_a_material(bpy_module, addon, library, backend_env):
    """A library override with its slot set to Object holds its material itself (the linked mesh
    is untouched): Generate and Re-apply put one there, and the live preview goes on over any
    slot of an override (as the object's own, always)."""
    bpy, live = bpy_module, addon.operators.live_preview
    obj = overridden_object(bpy, library)
    live.start(bpy.context)
    try:
        assert live.is_on()
    finally:
        live.stop()
    assert obj.material_slots[0].link == "DATA" and obj.active_material.name == "Bricks"
    obj.material_slots[0].link = "OBJECT"
    assert bpy.ops.atelier.generate_texture(prompt="red brick wall", model="builtin") == {"FINISHED"}
    made = obj.active_material
    assert made.name != "Bricks" and made.library is None and obj.data.materials[0].name == "Bricks"
    obj.material_slots[0].material = None
    assert bpy.ops.atelier.texture_history_apply(index=0) == {"FINISHED"}
    assert obj.active_material == made
