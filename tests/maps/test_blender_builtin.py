"""The built-in engine's maps: its procedural materials get ambient occlusion and displacement
from their own nodes when maps are asked for, and the history names what they have."""

import pytest

ROLES = ("normal", "height", "roughness", "metallic", "ao", "albedo")


@pytest.fixture
def plane(bpy_module, clean_scene):
    bpy_module.ops.mesh.primitive_plane_add(size=2)
    return bpy_module.context.object


def generate(bpy, prompt, **kwargs):
    assert bpy.ops.atelier.generate_texture(prompt=prompt, model="builtin", seed=2, **kwargs) == {"FINISHED"}
    return bpy.context.object.active_material


def test_asked_maps_come_from_the_recipes_own_nodes(bpy_module, plane):
    material = generate(bpy_module, "rusty metal", maps={"HEIGHT", "METALLIC", "AO"},
                        displacement="DISPLACEMENT")
    nodes = material.node_tree.nodes
    bsdf = nodes["Principled BSDF"]
    assert bsdf.inputs["Base Color"].links[0].from_node.name == "Atelier AO"
    assert nodes["Atelier AO"].inputs["Color"].is_linked  # the recipe's colour, occluded
    output = material.node_tree.get_output_node("ALL")
    assert output.inputs["Displacement"].links[0].from_node.name == "Atelier Displacement"
    assert nodes["Atelier Displacement"].inputs["Height"].links[0].from_node.bl_idname != "ShaderNodeBump"
    assert not bsdf.inputs["Normal"].is_linked  # the displacement shades the relief now
    assert material.displacement_method == "DISPLACEMENT"
    entry = bpy_module.context.scene.atelier.history[-1]
    assert [(m.role, m.image_name, m.engine) for m in entry.maps] == [
        ("height", "", "builtin"), ("metallic", "", "builtin"), ("ao", "", "builtin")]
    assert material["atelier_maps"] == "height,metallic,ao"


def test_box_projected_recipes_displace_by_their_mixed_height(bpy_module, plane):
    material = generate(bpy_module, "red brick", maps={"HEIGHT"}, displacement="BOTH")
    height = material.node_tree.nodes["Atelier Displacement"].inputs["Height"]
    assert height.links[0].from_node.bl_idname == "ShaderNodeMix"  # three box sides, mixed
    assert material.displacement_method == "BOTH"


def test_bump_keeps_the_recipe_as_it_is(bpy_module, plane):
    plain = generate(bpy_module, "rusty metal", maps=set())
    before = sorted((link.from_node.name, link.to_node.name) for link in plain.node_tree.links)
    material = generate(bpy_module, "rusty metal", maps={"NORMAL", "HEIGHT", "ROUGHNESS"})
    assert sorted((link.from_node.name, link.to_node.name) for link in material.node_tree.links) == before
    entry = bpy_module.context.scene.atelier.history[-1]
    assert [m.role for m in entry.maps] == ["normal", "height", "roughness"]
    assert len(bpy_module.context.scene.atelier.history[-2].maps) == 0
