"""The bake operator's new maps: height, metallic and AO, from procedural and image materials."""

import numpy as np
import pytest
from blender_maps import MAP_NODE, image_from_array, picture_material, read_pixels, stripes
from PIL import Image

SIZE = 32


def png(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture
def plane(bpy_module, clean_scene):
    bpy_module.ops.mesh.primitive_plane_add(size=2)
    return bpy_module.context.object


def bake(bpy, folder, maps, size=SIZE):
    outcome = bpy.ops.atelier.bake_material(directory=str(folder), size=size, samples=1, maps=maps)
    assert outcome == {"FINISHED"}


def test_a_procedural_material_bakes_height_metallic_and_ao(bpy_module, plane, tmp_path):
    bpy_module.ops.atelier.generate_texture(prompt="rusty metal", model="builtin", seed=4)
    bake(bpy_module, tmp_path, {"height", "metallic", "ao"})
    stem = tmp_path / "Rust_built-in"
    height = png(f"{stem}_height.png")
    assert height.dtype == np.uint16 and height.shape == (SIZE, SIZE)
    assert abs(height.mean() / 65535 - 0.5) < 0.01  # centred on the mean surface
    assert height.std() > 1000  # the recipe's relief, not a flat field
    metallic = png(f"{stem}_metallic.png")
    assert metallic.ndim in (2, 3) and metallic.std() > 10  # bare steel between rust patches
    ao = png(f"{stem}_ao.png")
    assert ao.mean() > 0.95 * 255  # a lone plane: nothing occludes it
    assert len(bpy_module.data.images) == 0  # the files are what the bake is for


def test_box_projected_recipes_bake_their_mixed_height(bpy_module, addon, plane, tmp_path, monkeypatch):
    bpy_module.ops.atelier.generate_texture(prompt="red brick", model="builtin", seed=4)
    nodes_before = sorted(n.name for n in plane.active_material.node_tree.nodes)
    assert "top projection" in nodes_before  # brick is box-projected
    bake(bpy_module, tmp_path, {"height"})
    boxed = png(tmp_path / "Brick_built-in_height.png")
    assert boxed.std() > 1000
    assert sorted(n.name for n in plane.active_material.node_tree.nodes) == nodes_before
    # On a face looking up the box blend is all top copy, which is the recipe laid out without
    # projection: the mixed height must be exactly that recipe's height (mixing by any other
    # weights brings in the front and side copies' bricks).
    monkeypatch.delitem(addon.builtin.texture.recipes()["brick"], "projection")
    bpy_module.ops.atelier.generate_texture(prompt="red brick", model="builtin", seed=4)
    assert "top projection" not in plane.active_material.node_tree.nodes  # built unprojected
    bake(bpy_module, tmp_path / "unprojected", {"height"})
    (path,) = (tmp_path / "unprojected").glob("*_height.png")
    unprojected = png(path)
    assert np.array_equal(unprojected, boxed), np.abs(unprojected.astype(int) - boxed).max()


@pytest.mark.parametrize("displacement", ["BUMP", "DISPLACEMENT"])
def test_an_image_material_bakes_back_its_height_map(bpy_module, clean_scene, tmp_path, displacement):
    _, material = picture_material(bpy_module, image_from_array(bpy_module, stripes(SIZE, SIZE)))
    bpy_module.ops.atelier.derive_maps(maps={"HEIGHT"}, maps_model="classic", displacement=displacement)
    shown = read_pixels(material.node_tree.nodes[MAP_NODE.format("height")].image)[..., 0]
    bake(bpy_module, tmp_path, {"height"})
    baked = png(tmp_path / "Picture_height.png") / 65535.0
    # The plane's UV square is the picture: pixel for pixel the map, moved to a mean of 0.5.
    assert np.abs((baked - baked.mean()) - (shown - shown.mean())).max() < 0.02


def test_metallic_without_a_map_bakes_the_bsdf_value(bpy_module, clean_scene, tmp_path):
    _, material = picture_material(bpy_module, image_from_array(bpy_module, stripes(SIZE, SIZE)))
    material.node_tree.nodes["Principled BSDF"].inputs["Metallic"].default_value = 0.7
    bake(bpy_module, tmp_path, {"metallic", "height"})
    metallic = png(tmp_path / "Picture_metallic.png")
    assert np.abs(metallic.astype(int) - round(0.7 * 255)).max() <= 1
    assert (png(tmp_path / "Picture_height.png") == 32768).all()  # no relief: the mean surface
