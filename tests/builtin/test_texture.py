"""The built-in texture engine: recipes picked by words, built as procedural node trees."""

import json

import numpy as np
import pytest
from coloraide import Color
from PIL import Image

# What makes each material recognisable, written from the artist's side: node types that must
# be in the tree and Principled BSDF inputs that must be set or linked (how glossy each one
# renders is checked on baked maps in test_bake.py).
DEFINING = {
    "brick": {"nodes": {"ShaderNodeTexBrick"}},
    "tiles": {"nodes": {"ShaderNodeTexBrick"}},
    "planks": {"nodes": {"ShaderNodeTexBrick", "ShaderNodeTexWave"}},
    "wood": {"nodes": {"ShaderNodeTexWave", "ShaderNodeTexNoise"}},
    "marble": {"nodes": {"ShaderNodeTexWave"}},
    "stone": {"nodes": {"ShaderNodeTexVoronoi"}},
    "rock": {"nodes": {"ShaderNodeTexNoise", "ShaderNodeBump"}},
    "concrete": {"nodes": {"ShaderNodeTexNoise", "ShaderNodeBump"}},
    "metal": {"nodes": {"ShaderNodeTexNoise"}, "metallic": 1.0},
    "rust": {"nodes": {"ShaderNodeTexNoise"}, "linked": {"Metallic"}},
    "fabric": {"nodes": {"ShaderNodeTexWave"}, "sheen": True},
    "leather": {"nodes": {"ShaderNodeTexVoronoi", "ShaderNodeBump"}},
    "sand": {"nodes": {"ShaderNodeTexWave", "ShaderNodeTexNoise"}},
    "grass": {"nodes": {"ShaderNodeTexVoronoi", "ShaderNodeTexNoise"}},
    "soil": {"nodes": {"ShaderNodeTexNoise", "ShaderNodeTexVoronoi"}},
    "bark": {"nodes": {"ShaderNodeTexVoronoi", "ShaderNodeBump"}},
    "lava": {"nodes": {"ShaderNodeTexVoronoi"}, "linked": {"Emission Color", "Emission Strength"}},
    "ice": {"nodes": {"ShaderNodeTexVoronoi"}},
}
TEXTURE_NODES = {"ShaderNodeTexBrick", "ShaderNodeTexVoronoi", "ShaderNodeTexNoise",
                 "ShaderNodeTexWave", "ShaderNodeTexChecker"}


def _principled(material):
    output = material.node_tree.get_output_node("CYCLES")
    assert output.inputs["Surface"].is_linked
    shader = output.inputs["Surface"].links[0].from_node
    assert shader.bl_idname == "ShaderNodeBsdfPrincipled"
    return shader


def _input_value(shader, name):
    socket = shader.inputs[name]
    return None if socket.is_linked else socket.default_value


def test_every_material_the_issue_names_has_a_recipe(builtin):
    assert set(DEFINING) == set(builtin.texture.recipes())


@pytest.mark.parametrize("recipe_id", sorted(DEFINING))
def test_every_word_builds_a_valid_tree_with_the_recipes_defining_parts(builtin, plane, bpy_module,
                                                                        recipe_id):
    words = builtin.texture.recipes()[recipe_id]["words"]
    assert all(builtin.texture.choose_recipe(f"an old {word} surface") == recipe_id for word in words)
    material, record = builtin.texture.apply_procedural_material(
        bpy_module.context, [plane], f"{words[0]} texture", seed=7)
    tree = material.node_tree
    assert plane.active_material == material
    assert all(link.is_valid for link in tree.links)
    kinds = {node.bl_idname for node in tree.nodes}
    spec = DEFINING[recipe_id]
    assert spec["nodes"] <= kinds
    assert "ShaderNodeTexImage" not in kinds  # procedural: no pixels, any resolution
    # Every texture reads the seeded object-space mapping, directly or through another mapping.
    mapping = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeMapping" and
                   n.inputs["Vector"].links[0].from_socket.name == "Object")
    for node in tree.nodes:
        if node.bl_idname in TEXTURE_NODES:
            source = node.inputs["Vector"].links[0].from_node
            assert source == mapping or source.bl_idname in {"ShaderNodeMapping", "ShaderNodeMix"}
    shader = _principled(material)
    assert shader.inputs["Base Color"].is_linked
    if "metallic" in spec:
        assert _input_value(shader, "Metallic") == pytest.approx(spec["metallic"])
    else:
        assert shader.inputs["Metallic"].is_linked or _input_value(shader, "Metallic") == 0.0
    for name in spec.get("linked", ()):
        assert shader.inputs[name].is_linked, name
    if spec.get("sheen"):
        assert _input_value(shader, "Sheen Weight") > 0.0
    assert record["engine"] == "builtin" and record["recipe"] == recipe_id
    assert json.loads(material["atelier_provenance"])["recipe"] == recipe_id


def test_provenance_is_shaped_like_the_backends(builtin, plane, bpy_module, addon):
    protocol = addon.core.protocol
    _, record = builtin.texture.apply_procedural_material(bpy_module.context, [plane], "red brick", 42)
    assert record["schema"] == protocol.PROVENANCE_SCHEMA
    assert (record["engine"], record["model"], record["seed"]) == ("builtin", "builtin", 42)
    assert record["parameters"]["prompt"] == "red brick"
    assert record["parameters"]["recipe"] == "brick"
    assert {"python", "blender", "coloraide"} <= set(record["versions"])
    json.dumps(record)  # it travels as JSON


def test_no_seed_picks_one_and_records_it(builtin, plane, bpy_module):
    material, record = builtin.texture.apply_procedural_material(bpy_module.context, [plane], "sand")
    assert isinstance(record["seed"], int)
    location = tuple(material.node_tree.nodes["Mapping"].inputs["Location"].default_value)
    again, _ = builtin.texture.apply_procedural_material(bpy_module.context, [plane], "sand",
                                                         record["seed"])
    assert tuple(again.node_tree.nodes["Mapping"].inputs["Location"].default_value) == location


def test_a_random_seed_is_kept_concrete_so_regenerate_makes_the_same_texture(plane, bpy_module, addon,
                                                                            tmp_path):
    """``seed=-1`` draws a seed; the history must keep the one drawn, not -1, because
    Regenerate makes the entry again from it: the same material, baked to the same pixels."""
    bpy = bpy_module
    assert bpy.ops.atelier.generate_texture(prompt="red brick", model="builtin", seed=-1) == {"FINISHED"}
    history = bpy.context.scene.atelier.history
    seed = history[0].seed
    assert 0 <= seed <= addon.core.protocol.SEED_MAX
    assert json.loads(history[0].provenance)["seed"] == seed
    first = _baked_base_color(addon, bpy, plane, tmp_path / "first")
    assert bpy.ops.atelier.texture_history_regenerate(index=0) == {"FINISHED"}
    assert len(history) == 2 and history[1].seed == seed
    assert np.array_equal(_baked_base_color(addon, bpy, plane, tmp_path / "again"), first)
    # Another seed bakes differently, so equal pixels above mean the seed was the same.
    bpy.ops.atelier.generate_texture(prompt="red brick", model="builtin", seed=seed ^ 1)
    assert not np.array_equal(_baked_base_color(addon, bpy, plane, tmp_path / "other"), first)


def _baked_base_color(addon, bpy, plane, folder):
    """The plane's material baked to a small base-colour map (one sample: fast)."""
    paths = addon.apply.bake.bake_maps(bpy.context, plane, str(folder), size=32, samples=1,
                                       maps=("base_color",))
    with Image.open(paths["base_color"]) as image:
        return np.asarray(image.convert("RGB"))


def test_seeds_shift_the_texture_space(builtin, plane, bpy_module):
    locations = set()
    for seed in (1, 2, 1):
        material, _ = builtin.texture.apply_procedural_material(bpy_module.context, [plane], "marble", seed)
        locations.add(tuple(material.node_tree.nodes["Mapping"].inputs["Location"].default_value))
    assert len(locations) == 2


def test_the_more_specific_material_wins(builtin):
    choose = builtin.texture.choose_recipe
    assert choose("rusty metal sheet") == "rust"
    assert choose("white marble tiles") == "tiles"
    assert choose("old bricks") == "brick"
    assert choose("oak floorboards") == "planks"
    assert choose("GLOWING LAVA!") == "lava"


@pytest.mark.parametrize(("prompt", "role", "hue"), [
    ("blue tiles", "tile", 264.0),
    ("yellow brick", "brick", 110.0),
    ("green marble", "stone", 142.0),
    ("purple fabric", "thread", 328.0),
    ("teal leather", "leather", 195.0),
])
def test_colour_words_tint_the_recipe_towards_their_hue(builtin, prompt, role, hue):
    recipe = builtin.texture.recipes()[builtin.texture.choose_recipe(prompt)]
    tinted = Color(builtin.texture.recipe_colors(recipe, prompt)[role]).convert("oklch")
    assert abs((tinted["hue"] - hue + 180) % 360 - 180) < 15
    untinted = Color(recipe["colors"][role]).convert("oklch")
    assert abs((untinted["hue"] - hue + 180) % 360 - 180) > 25  # the word made the difference


def test_grey_and_white_words_keep_the_lightness_structure(builtin):
    recipe = builtin.texture.recipes()["marble"]
    black = builtin.texture.recipe_colors(recipe, "black marble")
    white = builtin.texture.recipe_colors(recipe, "white marble")
    lightness = {name: Color(hex_).convert("oklch")["lightness"] for name, hex_ in black.items()}
    assert lightness["stone"] < 0.35
    assert Color(white["stone"]).convert("oklch")["lightness"] > 0.9
    assert abs(lightness["vein"] - lightness["stone"]) > 0.3  # veins stay visible (light on black)
    assert abs(lightness["cloud"] - lightness["stone"]) > 0.05


def test_natural_materials_are_never_neon(builtin):
    recipe = builtin.texture.recipes()["brick"]
    brick = Color(builtin.texture.recipe_colors(recipe, "bright red brick")["brick"]).convert("oklch")
    assert brick["chroma"] <= recipe["max_chroma"] + 1e-6
    tiles = builtin.texture.recipes()["tiles"]
    assert Color(builtin.texture.recipe_colors(tiles, "red tiles")["tile"]).convert("oklch")["chroma"] > 0.2


def test_a_prompt_without_a_material_word_changes_nothing(builtin, plane, bpy_module):
    before = len(bpy_module.data.materials)
    with pytest.raises(ValueError, match="names no material.*brick"):
        builtin.texture.apply_procedural_material(bpy_module.context, [plane], "something nice", 1)
    assert len(bpy_module.data.materials) == before
    assert plane.active_material is None


def test_objects_that_cannot_hold_materials_are_skipped_or_refused(builtin, plane, bpy_module):
    light = bpy_module.data.objects.new("lamp", bpy_module.data.lights.new("lamp", "POINT"))
    bpy_module.context.scene.collection.objects.link(light)
    before = len(bpy_module.data.materials)
    with pytest.raises(ValueError, match="select a mesh"):
        builtin.texture.apply_procedural_material(bpy_module.context, [light], "brick", 1)
    assert len(bpy_module.data.materials) == before
    material, _ = builtin.texture.apply_procedural_material(bpy_module.context, [light, plane], "brick", 1)
    assert plane.active_material == material


def test_existing_slots_keep_their_other_materials(builtin, plane, bpy_module):
    first, second = bpy_module.data.materials.new("a"), bpy_module.data.materials.new("b")
    plane.data.materials.append(first)
    plane.data.materials.append(second)
    plane.active_material_index = 1
    material, _ = builtin.texture.apply_procedural_material(bpy_module.context, [plane], "ice", 1)
    assert [slot.material for slot in plane.material_slots] == [first, material]


def test_a_broken_recipe_file_is_reported_and_leaves_no_material(builtin, plane, bpy_module, monkeypatch):
    broken = json.loads(json.dumps(builtin.texture.recipes()))
    broken["brick"]["nodes"]["bricks"]["inputs"]["Vector"] = "nowhere.Vector"
    monkeypatch.setattr(builtin.texture, "recipes", lambda: broken)
    before = len(bpy_module.data.materials)
    with pytest.raises(ValueError, match="recipe 'brick' in texture_recipes.json is broken"):
        builtin.texture.apply_procedural_material(bpy_module.context, [plane], "brick", 1)
    assert len(bpy_module.data.materials) == before
    assert plane.active_material is None
