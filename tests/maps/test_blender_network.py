"""``atelier.derive_maps`` builds the PBR node network in real Blender (classic engine, no backend)."""

import pytest
from blender_maps import MAP_NODE, image_from_array, node_links, picture_material, stripes

ALL_MAPS = {"NORMAL", "HEIGHT", "ROUGHNESS", "METALLIC", "AO", "ALBEDO"}
BSDF = "Principled BSDF"


@pytest.fixture
def material(bpy_module, clean_scene):
    _, material = picture_material(bpy_module, image_from_array(bpy_module, stripes()))
    return material


def derive(bpy, **kwargs):
    kwargs.setdefault("maps_model", "classic")
    return bpy.ops.atelier.derive_maps(**kwargs)


def test_every_map_is_wired_into_one_principled_bsdf(bpy_module, material):
    assert derive(bpy_module, maps=ALL_MAPS) == {"FINISHED"}
    links = node_links(material)
    nodes = material.node_tree.nodes
    expected = {
        (MAP_NODE.format("normal"), "Color", "Atelier Normal Map", "Color"),
        ("Atelier Normal Map", "Normal", "Atelier Bump", "Normal"),
        (MAP_NODE.format("height"), "Color", "Atelier Bump", "Height"),
        ("Atelier Bump", "Normal", BSDF, "Normal"),
        (MAP_NODE.format("roughness"), "Color", "Atelier Roughness Range", "Value"),
        ("Atelier Roughness Range", "Result", BSDF, "Roughness"),
        (MAP_NODE.format("metallic"), "Color", BSDF, "Metallic"),
        # AO multiplies the de-lit albedo, which took the picture's place.
        (MAP_NODE.format("albedo"), "Color", "Atelier AO Multiply", "A_Color"),
        (MAP_NODE.format("ao"), "Color", "Atelier AO Multiply", "B_Color"),
        ("Atelier AO Multiply", "Result_Color", BSDF, "Base Color"),
    }
    assert expected <= links, expected - links
    assert nodes["Atelier AO Multiply"].blend_type == "MULTIPLY"
    assert nodes["Atelier Normal Map"].space == "TANGENT"
    assert material.displacement_method == "BUMP"
    # One mapping for the picture and every map.
    textures = [n for n in nodes if n.bl_idname == "ShaderNodeTexImage"]
    assert len(textures) == 7
    assert {(n.inputs["Vector"].links[0].from_node.name) for n in textures} == {"Atelier Mapping"}
    assert nodes["Atelier Mapping"].inputs["Vector"].links[0].from_socket.name == "UV"
    # The picture stays in the tree, off Base Color, for export and for taking the albedo off again.
    assert not nodes["Atelier Base Color"].outputs["Color"].is_linked


def test_colour_spaces_are_data_except_albedo(bpy_module, material):
    derive(bpy_module, maps=ALL_MAPS)
    nodes = material.node_tree.nodes
    spaces = {role: nodes[MAP_NODE.format(role)].image.colorspace_settings.name
              for role in ("normal", "height", "roughness", "metallic", "ao", "albedo")}
    assert spaces == {"normal": "Non-Color", "height": "Non-Color", "roughness": "Non-Color",
                      "metallic": "Non-Color", "ao": "Non-Color", "albedo": "sRGB"}
    # Height keeps 16 bits: Blender holds it as a float image.
    assert nodes[MAP_NODE.format("height")].image.is_float


@pytest.mark.parametrize("method", ["DISPLACEMENT", "BOTH"])
def test_height_moves_the_surface_through_a_displacement_node(bpy_module, material, method):
    derive(bpy_module, maps={"NORMAL", "HEIGHT"}, displacement=method)
    links = node_links(material)
    assert (MAP_NODE.format("height"), "Color", "Atelier Displacement", "Height") in links
    assert ("Atelier Displacement", "Displacement", "Material Output", "Displacement") in links
    # No Bump node as well: Blender derives the bump of 'BOTH' from the displacement itself.
    assert "Atelier Bump" not in material.node_tree.nodes
    assert ("Atelier Normal Map", "Normal", BSDF, "Normal") in links
    assert material.displacement_method == method


def test_ao_stays_off_the_colour_when_not_used(bpy_module, material):
    derive(bpy_module, maps={"AO"}, use_ao=False)
    nodes = material.node_tree.nodes
    assert "Atelier AO Multiply" not in nodes
    assert nodes[MAP_NODE.format("ao")].image is not None  # still there, for export
    assert ("Atelier Base Color", "Color", BSDF, "Base Color") in node_links(material)


def test_deriving_again_replaces_the_maps(bpy_module, material):
    derive(bpy_module, maps=ALL_MAPS)
    derive(bpy_module, maps={"ROUGHNESS"})
    nodes = material.node_tree.nodes
    names = {n.name for n in nodes}
    assert MAP_NODE.format("roughness") in names
    assert not {MAP_NODE.format(r) for r in ("normal", "height", "metallic", "ao", "albedo")} & names
    assert not {"Atelier Normal Map", "Atelier Bump", "Atelier AO Multiply"} & names
    assert ("Atelier Base Color", "Color", BSDF, "Base Color") in node_links(material)
    assert not nodes[BSDF].inputs["Normal"].is_linked


def test_history_and_provenance_name_every_map_and_its_engine(bpy_module, material):
    import json

    derive(bpy_module, maps={"NORMAL", "ROUGHNESS"})
    item = bpy_module.context.scene.atelier.history[-1]
    assert item.material_name == material.name
    assert [(m.role, m.engine, m.model) for m in item.maps] == [
        ("normal", "classic", "classic"), ("roughness", "classic", "classic")]
    record = json.loads(item.maps_provenance)
    assert record["engine"] == "classic" and record["parameters"]["maps"] == ["normal", "roughness"]
    normal = bpy_module.data.images[item.maps[0].image_name]
    assert normal["atelier_engine"] == "classic" and normal["atelier_role"] == "normal"
    assert material["atelier_maps"] == "normal,roughness"
    assert json.loads(material["atelier_maps_provenance"])["engine"] == "classic"
