"""Baking materials to image maps with Cycles on the CPU (small maps, one sample: fast)."""

import itertools
import os

import numpy as np
import pytest
from PIL import Image

SIZE = 32
FLAT = 3.0  # mean per-channel standard deviation (0-255) under which a map counts as flat
DISTINCT = 8.0  # RGB distance (0-255) two recipes' mean colours must at least be apart
# Glossy materials: the highest median roughness (0-1) their baked map may have.
GLOSSY = {"tiles": 0.4, "marble": 0.3, "ice": 0.3}


@pytest.fixture(scope="module")
def bake(addon):
    """Baking any material: ``apply.bake`` of the installed extension."""
    return addon.apply.bake


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=float).reshape(-1, 3)


@pytest.fixture(scope="module")
def baked(bake, builtin, addon, bpy_module, tmp_path_factory):
    """Every recipe's base colour and roughness baked once: recipe id -> role -> pixels."""
    bpy = bpy_module
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_plane_add(size=2)
    plane = bpy.context.object
    folder = tmp_path_factory.mktemp("baked")
    result = {}
    for recipe_id in builtin.texture.recipes():
        builtin.texture.apply_procedural_material(bpy.context, [plane], recipe_id, seed=3)
        paths = bake.bake_maps(bpy.context, plane, str(folder / recipe_id), size=SIZE,
                                       samples=1, maps=("base_color", "roughness"))
        result[recipe_id] = {role: _pixels(path) for role, path in paths.items()}
    return result


@pytest.fixture(scope="module")
def base_colors(baked):
    return {recipe_id: maps["base_color"] for recipe_id, maps in baked.items()}


def test_no_recipe_bakes_flat(base_colors):
    for recipe_id, pixels in base_colors.items():
        assert pixels.shape == (SIZE * SIZE, 3)
        assert pixels.std(axis=0).mean() > FLAT, recipe_id


def test_recipes_differ_from_each_other(base_colors):
    for a, b in itertools.combinations(base_colors, 2):
        distance = np.linalg.norm(base_colors[a].mean(axis=0) - base_colors[b].mean(axis=0))
        assert distance > DISTINCT, (a, b, distance)


def test_baked_colours_are_the_materials_colours(base_colors):
    red, green, blue = (base_colors[name].mean(axis=0) for name in ("brick", "grass", "ice"))
    assert red[0] > red[1] and red[0] > red[2]
    assert green[1] > green[0] and green[1] > green[2]
    assert blue[2] > blue[0]
    assert base_colors["metal"].mean() > 100  # the base colour, not a metal's black diffuse colour


def test_glossy_materials_bake_mostly_glossy(baked):
    roughness = {recipe_id: np.median(maps["roughness"][:, 0]) / 255 for recipe_id, maps in baked.items()}
    for recipe_id, highest in GLOSSY.items():
        assert roughness[recipe_id] <= highest, (recipe_id, roughness[recipe_id])
    # The check can fail: most materials are rougher than the glossiest limit.
    matte = [recipe_id for recipe_id in roughness if recipe_id not in GLOSSY]
    assert sum(roughness[recipe_id] > max(GLOSSY.values()) for recipe_id in matte) > len(matte) / 2


def test_all_maps_bake_and_the_scene_is_left_as_it_was(bake, builtin, plane, bpy_module, tmp_path):
    bpy = bpy_module
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    material, _ = builtin.texture.apply_procedural_material(bpy.context, [plane], "blue tiles", 5)
    nodes_before = sorted(node.name for node in material.node_tree.nodes)
    links_before = len(material.node_tree.links)
    paths = bake.bake_maps(bpy.context, plane, str(tmp_path / "maps"), size=16, samples=1)
    assert set(paths) == {"base_color", "roughness", "normal", "height", "metallic", "ao"}
    for path in paths.values():
        assert Image.open(path).size == (16, 16)
    normal = _pixels(paths["normal"]).mean(axis=0)
    assert normal[2] > normal[0] and normal[2] > normal[1]  # tangent-space normals point out: blue
    base = _pixels(paths["base_color"]).mean(axis=0)
    assert base[2] > base[0]  # blue tiles
    roughness = _pixels(paths["roughness"]).mean()
    assert roughness < 0.5 * 255  # glazed tiles are smooth
    assert scene.render.engine == "BLENDER_WORKBENCH"
    assert sorted(node.name for node in material.node_tree.nodes) == nodes_before
    assert len(material.node_tree.links) == links_before
    assert len(bpy.data.images) == 0


def test_bad_input_is_refused_before_anything_changes(bake, builtin, plane, bpy_module, tmp_path):
    bpy = bpy_module
    bake_maps = bake.bake_maps
    with pytest.raises(ValueError, match="no node material"):
        bake_maps(bpy.context, plane, str(tmp_path), size=16)
    builtin.texture.apply_procedural_material(bpy.context, [plane], "wood", 1)
    with pytest.raises(ValueError, match="between 8 and 8192"):
        bake_maps(bpy.context, plane, str(tmp_path), size=4)
    with pytest.raises(ValueError, match="samples"):
        bake_maps(bpy.context, plane, str(tmp_path), size=16, samples=0)
    with pytest.raises(ValueError, match="maps must be some of"):
        bake_maps(bpy.context, plane, str(tmp_path), size=16, maps=("albedo",))
    a_file = tmp_path / "file.png"
    a_file.write_bytes(b"")
    with pytest.raises(ValueError, match="is a file"):
        bake_maps(bpy.context, plane, str(a_file), size=16)
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.object
    cube.data.uv_layers.remove(cube.data.uv_layers[0])
    cube.data.materials.append(plane.active_material)
    with pytest.raises(ValueError, match="no UV map.*unwrap"):
        bake_maps(bpy.context, cube, str(tmp_path / "cube"), size=16)
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    with pytest.raises(ValueError, match="select a mesh"):
        bake_maps(bpy.context, camera, str(tmp_path), size=16)
    emission_only = bpy.data.materials.new("glow")
    if emission_only.node_tree is None:  # Blender 4.x makes the tree on request
        emission_only.use_nodes = True
    tree = emission_only.node_tree
    tree.nodes.remove(tree.nodes["Principled BSDF"])
    emission = tree.nodes.new("ShaderNodeEmission")
    tree.links.new(emission.outputs[0], tree.get_output_node("CYCLES").inputs["Surface"])
    plane.active_material = emission_only
    with pytest.raises(ValueError, match="no Principled BSDF"):
        bake_maps(bpy.context, plane, str(tmp_path / "glow"), size=16)
    assert bake_maps(bpy.context, plane, str(tmp_path / "glow"), size=16, maps=("roughness",))
    assert not (tmp_path / "cube").exists() and len(bpy.data.images) == 0


def test_the_operator_bakes_the_active_object(builtin, plane, bpy_module, tmp_path):
    bpy = bpy_module
    builtin.texture.apply_procedural_material(bpy.context, [plane], "lava", 2)
    result = bpy.ops.atelier.bake_material(directory=str(tmp_path), size=16, samples=1,
                                           maps={"base_color"})
    assert result == {"FINISHED"}
    assert os.listdir(tmp_path) == ["Lava_built-in_base_color.png"]


def test_the_operator_needs_a_saved_file_for_a_relative_folder(builtin, plane, bpy_module):
    bpy = bpy_module
    builtin.texture.apply_procedural_material(bpy.context, [plane], "lava", 2)
    with pytest.raises(RuntimeError, match="Save the .blend first"):
        bpy.ops.atelier.bake_material(directory="//textures", size=16, samples=1)


def test_the_operator_is_greyed_out_without_a_material(plane, bpy_module):
    assert not bpy_module.ops.atelier.bake_material.poll()


def _variation(bake, context, plane, folder) -> np.ndarray:
    """The plane's baked base colour's mean variation within each row and within each column."""
    paths = bake.bake_maps(context, plane, str(folder), size=SIZE, samples=1, maps=("base_color",))
    grey = np.asarray(Image.open(paths["base_color"]).convert("L"), dtype=float)
    return np.array([grey.std(axis=1).mean(), grey.std(axis=0).mean()])


@pytest.mark.parametrize("recipe_id", ["brick", "tiles", "planks"])
def test_flat_patterns_sit_right_on_upright_faces(bake, builtin, plane, bpy_module, tmp_path, recipe_id):
    """Blender lays bricks out in X and Y only; on a face standing in XZ they would smear into
    stripes along Z unless the recipe is box-projected. Upright, the pattern must vary along
    both image axes about as much as it does on the same plane lying flat (a fixed threshold
    would not do: planks' grain varies along Z even when smeared)."""
    import math

    import mathutils

    context = bpy_module.context
    builtin.texture.apply_procedural_material(context, [plane], recipe_id, seed=3)
    flat = _variation(bake, context, plane, tmp_path / "flat")
    assert flat.min() > FLAT
    plane.data.transform(mathutils.Matrix.Rotation(math.radians(90), 4, "X"))  # the mesh now faces Y
    upright = _variation(bake, context, plane, tmp_path / "upright")
    # Smeared along Z, bricks and tiles keep almost none of it, planks' grain about a third.
    assert (upright > 0.6 * flat).all(), (upright, flat)
