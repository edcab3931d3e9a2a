"""The Texture panel shows the maps: the Default Maps row, and the active material's strengths
(its nodes' own values), Derive Maps and Export."""

from blender_maps import image_from_array, picture_material, stripes
from panel_recorder import draw


def props(calls) -> dict:
    """text -> (the data drawn, its property) of every ``prop`` call with a text."""
    return {kwargs.get("text"): (args[0], args[1]) for name, args, kwargs in calls if name == "prop"}


def operators(calls) -> dict:
    return {args[0]: kwargs for name, args, kwargs in calls if name == "operator properties"}


def test_the_panel_shows_the_strengths_of_the_active_material(bpy_module, addon, clean_scene):
    bpy = bpy_module
    _, material = picture_material(bpy, image_from_array(bpy, stripes()))
    panel = addon.panels.texture.ATELIER_PT_texture
    before = draw(bpy, panel)
    assert "Normal Strength" not in props(before)  # a picture without maps yet
    assert "atelier.derive_maps" in operators(before)
    bpy.ops.atelier.derive_maps(maps={"NORMAL", "HEIGHT", "ROUGHNESS", "AO"}, maps_model="classic",
                                displacement="BOTH")
    calls = draw(bpy, panel)
    shown = props(calls)
    nodes = material.node_tree.nodes
    assert shown["Normal Strength"] == (nodes["Atelier Normal Map"].inputs["Strength"], "default_value")
    assert shown["Displacement Scale"] == (nodes["Atelier Displacement"].inputs["Scale"], "default_value")
    assert shown["Roughness Min"][0] == nodes["Atelier Roughness Range"].inputs["To Min"]
    assert shown["Roughness Max"][0] == nodes["Atelier Roughness Range"].inputs["To Max"]
    assert shown["AO Strength"][0] == nodes["Atelier AO Multiply"].inputs["Factor"]
    assert shown["Displacement"] == (material, "displacement_method")
    assert operators(calls)["atelier.export_material"] == {"material": "Picture"}
    # The row of maps new textures get is the preference itself.
    prefs = bpy.context.preferences.addons[addon.__name__].preferences
    assert any(name == "prop" and args == (prefs, "default_maps") for name, args, _ in calls)


def test_the_panel_shows_the_bump_distance_of_bump_maps(bpy_module, addon, clean_scene):
    bpy = bpy_module
    _, material = picture_material(bpy, image_from_array(bpy, stripes()))
    bpy.ops.atelier.derive_maps(maps={"HEIGHT"}, maps_model="classic", displacement="BUMP")
    shown = props(draw(bpy, addon.panels.texture.ATELIER_PT_texture))
    bump = material.node_tree.nodes["Atelier Bump"]
    assert shown["Bump Distance"] == (bump.inputs["Distance"], "default_value")
    # The mesh does not move: neither a scale nor the displacement method to show.
    assert "Displacement Scale" not in shown and "Displacement" not in shown
