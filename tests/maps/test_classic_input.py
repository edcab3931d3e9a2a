"""What the classic engine accepts and refuses: image layouts and types, sizes, map names."""

import numpy as np
import pytest

from core import pbr, pbr_classic
from core.pbr import MapError


def _grey_ramp(dtype=np.uint8, top=255):
    return (np.arange(16 * 24).reshape(16, 24) * top // (16 * 24 - 1)).astype(dtype)


def test_greyscale_becomes_three_equal_channels():
    grey = _grey_ramp()
    rgb = pbr_classic.as_float_rgb(grey)
    assert rgb.dtype == np.float32 and rgb.shape == (16, 24, 3)
    for channel in range(3):
        assert np.allclose(rgb[..., channel], grey / 255.0, atol=1e-7)
    assert np.array_equal(pbr_classic.as_float_rgb(grey[..., None]), rgb)


def test_alpha_is_ignored():
    rng = np.random.default_rng(8)
    rgb = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (32, 32, 1), dtype=np.uint8)
    with_alpha = pbr_classic.derive(np.concatenate([rgb, alpha], axis=2))
    without = pbr_classic.derive(rgb)
    assert all(np.array_equal(with_alpha[role], without[role]) for role in pbr.MAP_ROLES)
    grey_alpha = np.concatenate([rgb[..., :1], alpha], axis=2)
    assert np.array_equal(pbr_classic.as_float_rgb(grey_alpha),
                          pbr_classic.as_float_rgb(rgb[..., 0]))


def test_sixteen_bit_and_float_pictures_read_like_eight_bit_ones():
    eight = _grey_ramp()
    sixteen = eight.astype(np.uint16) * 257  # 255 -> 65535
    floats = eight / 255.0
    expected = pbr_classic.as_float_rgb(eight)
    assert pbr_classic.as_float_rgb(sixteen).max() == 1.0
    assert np.allclose(pbr_classic.as_float_rgb(sixteen), expected, atol=1e-7)
    assert np.allclose(pbr_classic.as_float_rgb(floats), expected, atol=1e-7)
    assert np.allclose(pbr_classic.derive(sixteen)["height"], pbr_classic.derive(eight)["height"],
                       atol=1e-5)


def test_floats_outside_zero_to_one_are_clipped():
    picture = np.full((8, 8, 3), 0.5, np.float64)
    picture[0, 0], picture[0, 1] = -2.0, 3.0
    rgb = pbr_classic.as_float_rgb(picture)
    assert rgb[0, 0, 0] == 0.0 and rgb[0, 1, 0] == 1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_pixels_that_are_not_numbers_are_refused(bad):
    picture = np.full((8, 8, 3), 0.5)
    picture[3, 3, 1] = bad
    with pytest.raises(MapError, match="not numbers"):
        pbr_classic.derive(picture)


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (7, 64, 3), (64, 7)])
def test_a_picture_smaller_than_eight_pixels_a_side_is_refused(shape):
    height, width = shape[:2]
    with pytest.raises(MapError) as refused:
        pbr_classic.derive(np.zeros(shape, np.uint8))
    assert str(refused.value) == (f"the image is {width}x{height} pixels; maps need at least 8x8")


def test_the_smallest_picture_gives_every_map():
    made = pbr_classic.derive(np.random.default_rng(9).random((8, 8, 3)), seamless="xy")
    assert tuple(made) == pbr.MAP_ROLES
    for role, values in made.items():
        assert values.dtype == np.float32 and values.shape[:2] == (8, 8), role
        assert np.isfinite(values).all() and values.min() >= 0.0 and values.max() <= 1.0, role


@pytest.mark.parametrize("shape", [(16,), (16, 16, 5), (2, 16, 16, 3)])
def test_arrays_that_are_not_pictures_are_refused(shape):
    with pytest.raises(MapError, match="not a picture"):
        pbr_classic.as_float_rgb(np.zeros(shape))


def test_a_height_map_must_be_two_dimensional():
    with pytest.raises(MapError, match="H x W"):
        pbr_classic.normals_from_height(np.zeros((16, 16, 3)))


def test_only_the_requested_maps_are_made_in_role_order():
    made = pbr_classic.derive(np.zeros((16, 16, 3)), ["AO", " albedo", "normal", "ao"])
    assert tuple(made) == ("normal", "ao", "albedo")
    assert made["normal"].shape == (16, 16, 3)


def test_an_unknown_map_is_refused_with_the_known_ones_named():
    with pytest.raises(MapError) as refused:
        pbr.check_map_names(["normal", "gloss"])
    assert str(refused.value) == (
        "unknown map 'gloss'; use one of normal, height, roughness, metallic, ao, albedo")
    with pytest.raises(MapError, match="unknown map 'specular'"):
        pbr_classic.derive(np.zeros((16, 16, 3)), ["specular"])


def test_an_unknown_seamless_mode_is_refused():
    with pytest.raises(MapError, match="unknown seamless mode 'both'; use one of off, x, y, xy"):
        pbr_classic.derive(np.zeros((16, 16, 3)), seamless="both")


def test_map_errors_are_value_errors_and_colour_spaces_follow_the_roles():
    assert issubclass(MapError, ValueError)
    assert pbr.COLOR_SPACES == {"normal": "Non-Color", "height": "Non-Color",
                                "roughness": "Non-Color", "metallic": "Non-Color",
                                "ao": "Non-Color", "albedo": "sRGB"}
    assert pbr.check_map_names([]) == ()
    assert pbr.check_map_names("Height") == ("height",)
    assert pbr.DEFAULT_MAPS_MODEL in pbr.MAPS_ENGINES
