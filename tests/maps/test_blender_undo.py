"""Deriving maps is one undo step: one Ctrl+Z removes the maps, their nodes, images, the UV map
made for them and the history entry; a refused call changes nothing."""

import pytest
from blender_maps import image_from_array, picture_material, stripes
from scene_state import scene_state

ALL_MAPS = {"NORMAL", "HEIGHT", "ROUGHNESS", "METALLIC", "AO", "ALBEDO"}


def material_state(bpy) -> dict:
    """What deriving maps may change, as one comparable value."""
    material = bpy.data.materials["Picture"]
    return {
        **scene_state(bpy),
        "nodes": sorted(n.name for n in material.node_tree.nodes),
        "links": sorted((link.from_node.name, link.from_socket.identifier, link.to_node.name,
                         link.to_socket.identifier) for link in material.node_tree.links),
        "images": sorted(i.name for i in bpy.data.images),
        "uv_maps": sorted((m.name, uv.name) for m in bpy.data.meshes for uv in m.uv_layers),
        "history": [(h.material_name, [m.role for m in h.maps]) for h in bpy.context.scene.atelier.history],
        "displacement": material.displacement_method,
        "keys": sorted(material.keys()),
    }


@pytest.fixture
def picture_without_uvs(bpy_module, clean_scene):
    return picture_material(bpy_module, image_from_array(bpy_module, stripes()), uvs=False)


def test_one_undo_removes_all_of_it(bpy_module, picture_without_uvs):
    bpy = bpy_module
    bpy.ops.ed.undo_push(message="init")
    before = material_state(bpy)
    assert bpy.ops.atelier.derive_maps("EXEC_DEFAULT", True, maps=ALL_MAPS, maps_model="classic",
                                       displacement="BOTH") == {"FINISHED"}
    during = material_state(bpy)
    assert during != before
    assert ("Plane", "Atelier") in during["uv_maps"] and len(during["images"]) == 7
    bpy.ops.ed.undo()
    assert material_state(bpy) == before


@pytest.mark.parametrize("kwargs", [
    {"maps": set()},  # nothing asked for
    {"material": "No Such Material"},
    {"material": "Plain"},  # no picture on its Base Color
    {"maps_model": "marigold"},  # the backend is needed, and none is set
])
def test_a_refused_call_changes_nothing(bpy_module, picture_without_uvs, kwargs):
    bpy = bpy_module
    plain = bpy.data.materials.new("Plain")
    if bpy.app.version < (5, 0, 0):
        plain.use_nodes = True
    before = material_state(bpy)
    with pytest.raises(RuntimeError) as refused:
        bpy.ops.atelier.derive_maps(**{"maps": {"NORMAL"}, "maps_model": "classic", **kwargs})
    assert material_state(bpy) == before
    assert "Traceback" not in str(refused.value)
