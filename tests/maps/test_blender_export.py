"""``atelier.export_material`` writes every map of a material as PNG files, with a glTF ORM image."""

import numpy as np
import pytest
from blender_maps import MAP_NODE, image_from_array, picture_material, read_pixels, stripes
from PIL import Image

ALL_MAPS = {"NORMAL", "HEIGHT", "ROUGHNESS", "METALLIC", "AO", "ALBEDO"}


@pytest.fixture
def material(bpy_module, clean_scene):
    _, material = picture_material(bpy_module, image_from_array(bpy_module, stripes()), name="Old Brick/Wall")
    assert bpy_module.ops.atelier.derive_maps(maps=ALL_MAPS, maps_model="classic") == {"FINISHED"}
    return material


def png(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def export(bpy, folder, **kwargs):
    return bpy.ops.atelier.export_material(material="Old Brick/Wall", directory=str(folder), **kwargs)


def test_every_map_is_written_with_its_channels(bpy_module, material, tmp_path):
    assert export(bpy_module, tmp_path) == {"FINISHED"}
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"Old_Brick_Wall_{role}.png" for role in (
        "base_color", "normal", "height", "roughness", "metallic", "ao", "albedo", "orm"))
    stem = tmp_path / "Old_Brick_Wall"
    for role in ("base_color", "albedo", "normal"):
        assert png(f"{stem}_{role}.png").shape == (64, 64, 3), role
    for role in ("roughness", "metallic", "ao"):
        assert png(f"{stem}_{role}.png").dtype == np.uint8 and png(f"{stem}_{role}.png").ndim == 2, role
    height = png(f"{stem}_height.png")
    assert height.dtype == np.uint16 and height.ndim == 2
    # The files hold the maps the material shows, pixel for pixel.
    nodes = material.node_tree.nodes
    shown = read_pixels(nodes[MAP_NODE.format("normal")].image)[..., :3]
    assert np.array_equal(png(f"{stem}_normal.png"), np.rint(shown * 255).astype(np.uint8))
    shown_height = read_pixels(nodes[MAP_NODE.format("height")].image)[..., 0]
    assert np.abs(height / 65535.0 - shown_height).max() < 1e-4
    picture = read_pixels(nodes["Atelier Base Color"].image)[..., :3]
    assert np.array_equal(png(f"{stem}_base_color.png"), np.rint(picture * 255).astype(np.uint8))


def test_orm_channels_are_ao_roughness_metallic(bpy_module, material, tmp_path):
    export(bpy_module, tmp_path)
    stem = tmp_path / "Old_Brick_Wall"
    orm = png(f"{stem}_orm.png")
    assert orm.shape == (64, 64, 3)
    for channel, role in enumerate(("ao", "roughness", "metallic")):
        assert np.array_equal(orm[..., channel], png(f"{stem}_{role}.png")), role
    assert orm[..., 0].std() > 0 and orm[..., 1].std() > 0  # real maps, not constants


def test_orm_uses_the_materials_own_values_for_missing_maps(bpy_module, clean_scene, tmp_path):
    _, material = picture_material(bpy_module, image_from_array(bpy_module, stripes()), name="Only Rough")
    material.node_tree.nodes["Principled BSDF"].inputs["Metallic"].default_value = 0.2
    bpy_module.ops.atelier.derive_maps(maps={"ROUGHNESS"}, maps_model="classic")
    bpy_module.ops.atelier.export_material(material="Only Rough", directory=str(tmp_path))
    orm = png(tmp_path / "Only_Rough_orm.png")
    assert (orm[..., 0] == 255).all()  # no occlusion
    assert np.array_equal(orm[..., 1], png(tmp_path / "Only_Rough_roughness.png"))
    assert (orm[..., 2] == round(0.2 * 255)).all()


def test_directx_differs_from_opengl_only_in_green(bpy_module, material, tmp_path):
    export(bpy_module, tmp_path / "gl")
    export(bpy_module, tmp_path / "dx", normal_convention="DIRECTX")
    gl = png(tmp_path / "gl" / "Old_Brick_Wall_normal.png").astype(int)
    dx = png(tmp_path / "dx" / "Old_Brick_Wall_normal.png").astype(int)
    assert np.array_equal(dx[..., [0, 2]], gl[..., [0, 2]])
    assert np.array_equal(dx[..., 1], 255 - gl[..., 1])
    assert gl[..., 1].std() > 0  # green carries the relief, so flipping it is seen
    for role in ("base_color", "height", "roughness", "orm"):
        assert np.array_equal(png(tmp_path / "dx" / f"Old_Brick_Wall_{role}.png"),
                              png(tmp_path / "gl" / f"Old_Brick_Wall_{role}.png")), role


def test_no_orm_when_not_asked(bpy_module, material, tmp_path):
    export(bpy_module, tmp_path, orm=False)
    assert not (tmp_path / "Old_Brick_Wall_orm.png").exists()
    assert (tmp_path / "Old_Brick_Wall_roughness.png").exists()


def test_existing_files_are_refused_without_overwrite(bpy_module, material, tmp_path):
    (tmp_path / "Old_Brick_Wall_ao.png").write_bytes(b"the artist's own file")
    with pytest.raises(RuntimeError, match="Old_Brick_Wall_ao.png already exist"):
        export(bpy_module, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Old_Brick_Wall_ao.png"]  # nothing written
    assert (tmp_path / "Old_Brick_Wall_ao.png").read_bytes() == b"the artist's own file"
    assert export(bpy_module, tmp_path, overwrite=True) == {"FINISHED"}
    assert png(tmp_path / "Old_Brick_Wall_ao.png").ndim == 2


def test_a_material_without_maps_is_refused(bpy_module, clean_scene, tmp_path):
    plain = bpy_module.data.materials.new("Plain")
    with pytest.raises(RuntimeError, match="has no maps to export"):
        bpy_module.ops.atelier.export_material(material="Plain", directory=str(tmp_path))
    assert not list(tmp_path.iterdir())
    assert plain.name == "Plain"
