"""Maps tile when the picture does, in real Blender: the seamless mode reaches the classic engine
(from ``generate_texture``'s ``seamless``, a picture's Atelier record, or ``derive_maps``'s own
``seamless``) and the learned maps jobs."""

import json

import numpy as np
import pytest
from blender_helpers import mesh_object
from blender_maps import MAP_NODE, image_from_array, picture_material, read_pixels
from seams import seam_ratio, tiling_noise

# As in test_classic_seams: about 1 across a seam the filters wrapped, 1.5 and more across one
# they did not (measured on these maps of ``tiling_noise``).
SEAM_RATIO_LIMIT = 1.35
ROLES = ("normal", "height")


def map_pixels(material, role) -> np.ndarray:
    return read_pixels(material.node_tree.nodes[MAP_NODE.format(role)].image)[..., :3]


def seam_ratios(material) -> dict:
    """role -> (ratio across the left-right seam, across the top-bottom seam) of each map."""
    return {role: (seam_ratio(map_pixels(material, role), 1), seam_ratio(map_pixels(material, role), 0))
            for role in ROLES}


@pytest.fixture
def tiling_picture(bpy_module, clean_scene):
    """A material showing a picture that tiles both ways, with no Atelier record on it."""
    image = image_from_array(bpy_module, tiling_noise((96, 96)))
    _, material = picture_material(bpy_module, image)
    return image, material


def derive_classic(bpy, **kwargs):
    return bpy.ops.atelier.derive_maps(maps={"NORMAL", "HEIGHT"}, maps_model="classic", **kwargs)


def assert_tiles(material, axes=(1, 0)):
    ratios = seam_ratios(material)
    for role in ROLES:
        for axis in axes:
            assert ratios[role][1 - axis] <= SEAM_RATIO_LIMIT, ratios


def assert_normal_seam_shows(material, axis):
    """The normal map shows the seam of ``axis`` (1: left-right, 0: top-bottom): its filters cut there."""
    ratios = seam_ratios(material)
    assert ratios["normal"][1 - axis] > SEAM_RATIO_LIMIT, ratios


# ---------------------------------------------------------------------- the classic engine


def test_a_picture_atelier_made_seamless_gets_tiling_maps(bpy_module, tiling_picture):
    image, material = tiling_picture
    image["atelier_seamless"] = "xy"
    assert derive_classic(bpy_module) == {"FINISHED"}  # seamless 'AUTO': the picture's record
    assert_tiles(material)
    assert json.loads(material["atelier_maps_provenance"])["parameters"]["seamless"] == "xy"


def test_a_picture_without_a_record_gets_maps_cut_at_the_edges(bpy_module, tiling_picture):
    _, material = tiling_picture
    assert derive_classic(bpy_module) == {"FINISHED"}
    assert_normal_seam_shows(material, 1)
    assert_normal_seam_shows(material, 0)


@pytest.mark.parametrize(("seamless", "wrapped", "cut"), [("XY", (1, 0), ()), ("X", (1,), (0,)),
                                                          ("Y", (0,), (1,))])
def test_seamless_makes_an_artists_own_picture_tile(bpy_module, tiling_picture, seamless, wrapped, cut):
    _, material = tiling_picture
    assert derive_classic(bpy_module, seamless=seamless) == {"FINISHED"}
    assert_tiles(material, wrapped)
    for axis in cut:
        assert_normal_seam_shows(material, axis)


def test_seamless_off_overrides_the_pictures_record(bpy_module, tiling_picture):
    image, material = tiling_picture
    image["atelier_seamless"] = "xy"
    assert derive_classic(bpy_module, seamless="OFF") == {"FINISHED"}
    assert_normal_seam_shows(material, 1)
    assert json.loads(material["atelier_maps_provenance"])["parameters"]["seamless"] == "off"


def test_generate_texture_gives_its_seamless_mode_to_the_classic_maps(bpy_module, clean_scene, addon,
                                                                     backend_env):
    """The maps of a texture made seamless are the classic engine's wrapped maps of that texture."""
    cube = mesh_object(bpy_module)
    assert bpy_module.ops.atelier.generate_texture(
        prompt="slate", maps={"NORMAL", "HEIGHT"}, maps_model="classic", seamless="XY", width=64,
        height=64, steps=1, seed=3) == {"FINISHED"}
    material = cube.active_material
    picture = read_pixels(material.node_tree.nodes["Atelier Base Color"].image)[..., :3]
    made = map_pixels(material, "normal")
    derive = addon.core.pbr_classic.derive
    wrapped, cut = (derive(picture, ["normal"], seamless=mode)["normal"] for mode in ("xy", "off"))
    assert np.abs(made - wrapped).max() <= 1.5 / 255  # the same maps, as 8-bit PNGs
    assert np.abs(made - cut).max() > 4 / 255
    assert json.loads(material["atelier_maps_provenance"])["parameters"]["seamless"] == "xy"


# ---------------------------------------------------------------------- the learned maps job


def test_generate_texture_sends_its_seamless_mode_to_the_learned_maps(bpy_module, clean_scene,
                                                                       backend_env, tiny_marigold):
    cube = mesh_object(bpy_module)
    assert bpy_module.ops.atelier.generate_texture(
        prompt="slate", maps={"NORMAL"}, maps_model=str(tiny_marigold), seamless="X", width=64,
        height=64, steps=1, seed=3) == {"FINISHED"}
    record = json.loads(cube.active_material["atelier_maps_provenance"])
    assert (record["engine"], record["parameters"]["seamless"]) == ("marigold", "x")


@pytest.mark.parametrize(("recorded", "seamless", "sent"), [("xy", "AUTO", "xy"), ("", "Y", "y")])
def test_derive_maps_sends_the_seamless_mode_to_the_learned_maps(bpy_module, tiling_picture, backend_env,
                                                                tiny_marigold, recorded, seamless, sent):
    image, material = tiling_picture
    if recorded:
        image["atelier_seamless"] = recorded
    assert bpy_module.ops.atelier.derive_maps(maps={"NORMAL"}, maps_model=str(tiny_marigold),
                                              seamless=seamless) == {"FINISHED"}
    record = json.loads(material["atelier_maps_provenance"])
    assert (record["engine"], record["parameters"]["seamless"]) == ("marigold", sent)
