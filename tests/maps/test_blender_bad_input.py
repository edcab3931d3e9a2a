"""Bad input to ``atelier.derive_maps`` is refused with a message saying what to change, the
scene left as it was; greyscale, RGBA and 16-bit pictures are read right."""

import numpy as np
import pytest
from blender_maps import MAP_NODE, image_from_array, picture_material, read_pixels, stripes
from PIL import Image
from scene_state import scene_state


def state(bpy) -> tuple:
    return (scene_state(bpy), sorted(i.name for i in bpy.data.images),
            sorted(n.name for m in bpy.data.materials if m.node_tree for n in m.node_tree.nodes))


def refused(bpy, match: str, **kwargs) -> None:
    before = state(bpy)
    with pytest.raises(RuntimeError, match=match) as error:
        bpy.ops.atelier.derive_maps(**{"maps": {"NORMAL", "ROUGHNESS"}, "maps_model": "classic", **kwargs})
    assert "Traceback" not in str(error.value)
    assert state(bpy) == before


def test_a_one_pixel_picture_is_refused(bpy_module, clean_scene):
    picture_material(bpy_module, image_from_array(bpy_module, np.full((1, 1, 3), 0.5, np.float32)))
    refused(bpy_module, r"1x1 pixels; maps need at least 8x8")


def test_a_picture_over_the_size_limit_is_refused(bpy_module, clean_scene, monkeypatch):
    picture_material(bpy_module, image_from_array(bpy_module, stripes(64, 64)))
    monkeypatch.setenv("ATELIER_MAX_SIZE", "32")
    refused(bpy_module, r"64x64 pixels; maps take at most 32 per side")


def test_a_missing_picture_file_is_refused(bpy_module, clean_scene, tmp_path):
    path = tmp_path / "gone.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(path)
    image = bpy_module.data.images.load(str(path))
    path.unlink()  # moved away after the .blend was made
    image.reload()
    picture_material(bpy_module, image)
    refused(bpy_module, r"Blender cannot read the image 'gone.png'")


def test_a_material_without_a_principled_bsdf_is_refused(bpy_module, clean_scene):
    _, material = picture_material(bpy_module, image_from_array(bpy_module, stripes()))
    tree = material.node_tree
    emission = tree.nodes.new("ShaderNodeEmission")
    tree.links.new(emission.outputs[0], tree.get_output_node("ALL").inputs["Surface"])
    refused(bpy_module, r"has no Principled BSDF feeding its output")


def test_an_unknown_map_names_the_known_ones(bpy_module, clean_scene):
    picture_material(bpy_module, image_from_array(bpy_module, stripes()))
    with pytest.raises(ValueError, match="'NORMAL', 'HEIGHT', 'ROUGHNESS', 'METALLIC', 'AO', 'ALBEDO'"):
        bpy_module.ops.atelier.derive_maps(maps={"SHINY"}, maps_model="classic")


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_other_picture_formats_give_the_same_maps(bpy_module, clean_scene, tmp_path, mode):
    """Grey, RGBA, palette and 16-bit files of one picture give the maps of its 8-bit RGB file."""
    grey = np.rint(stripes()[..., 0] * 255).astype(np.uint8)

    def maps_of(path):
        bpy_module.ops.wm.read_homefile(use_empty=True)
        image = bpy_module.data.images.load(str(path))
        _, material = picture_material(bpy_module, image)
        outcome = bpy_module.ops.atelier.derive_maps(maps={"NORMAL", "ALBEDO"}, maps_model="classic")
        assert outcome == {"FINISHED"}
        nodes = material.node_tree.nodes
        return {role: read_pixels(nodes[MAP_NODE.format(role)].image)[..., :3]
                for role in ("normal", "albedo")}

    Image.fromarray(grey).convert("RGB").save(tmp_path / "rgb.png")
    if mode == "I;16":
        Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "other.png")
    else:
        Image.fromarray(grey).convert(mode).save(tmp_path / "other.png")
    expected, got = maps_of(tmp_path / "rgb.png"), maps_of(tmp_path / "other.png")
    for role in ("normal", "albedo"):
        assert np.abs(got[role] - expected[role]).max() <= 1.5 / 255, role
