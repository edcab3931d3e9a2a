"""Classic roughness, ambient occlusion, metallic and albedo."""

import numpy as np
import pytest

from core import pbr_classic

SIZE = 128


def _pictures():
    rng = np.random.default_rng(5)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    return {
        "black": np.zeros((SIZE, SIZE, 3)),
        "white": np.ones((SIZE, SIZE, 3)),
        "noise": rng.random((SIZE, SIZE, 3)),
        "pixel checker": ((rows + cols) % 2).astype(np.float64),
        "edge": np.where(cols < SIZE // 2, 0.0, 1.0),
    }


@pytest.mark.parametrize("name", sorted(_pictures()))
def test_roughness_metallic_and_occlusion_stay_in_zero_to_one(name):
    made = pbr_classic.derive(_pictures()[name], ["roughness", "metallic", "ao"])
    for role, values in made.items():
        assert values.dtype == np.float32 and values.shape == (SIZE, SIZE), role
        assert values.min() >= 0.0 and values.max() <= 1.0, role


def _bowl_height(depth=0.5, radius=6.0):
    """A flat 0.5 height field with a round pit (a spherical bowl) in its middle, about as
    wide as the radii occlusion looks at on a picture this size."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    r2 = (rows - SIZE / 2) ** 2 + (cols - SIZE / 2) ** 2
    return (0.5 - depth * np.sqrt(np.maximum(1.0 - r2 / radius**2, 0.0))).astype(np.float32)


def test_a_bowl_is_darker_at_its_centre_than_the_flat_ground():
    ao = pbr_classic.ao_from_height(_bowl_height())
    centre = ao[SIZE // 2, SIZE // 2]
    assert centre < ao[4, 4] - 0.1
    assert ao[4, 4] == 1.0  # flat ground far from the pit sees the whole sky


def test_a_dome_top_is_not_occluded():
    """Turned over, the bowl is a dome: its top sees the whole sky. An occlusion that did not
    tell up from down would darken it like the bowl's centre."""
    dome = 1.0 - _bowl_height()
    assert pbr_classic.ao_from_height(dome)[SIZE // 2, SIZE // 2] == 1.0


def test_a_dark_pit_in_a_picture_is_occluded():
    picture = np.full((SIZE, SIZE, 3), 0.6)
    picture[60:68, 60:68] = 0.05
    ao = pbr_classic.derive(picture, ["ao"])["ao"]
    assert ao[64, 64] < ao[10, 10] - 0.05


@pytest.mark.parametrize("seamless", ["off", "xy"])
def test_a_flat_picture_is_unoccluded_and_evenly_rough(seamless):
    made = pbr_classic.derive(np.full((SIZE, SIZE, 3), 0.3), ["ao", "roughness"], seamless)
    assert np.array_equal(made["ao"], np.ones((SIZE, SIZE), np.float32))
    assert np.ptp(made["roughness"]) < 1e-6


def test_grain_makes_a_surface_rough():
    """The left half is grainy, the right half plain: the grain is clearly rougher."""
    rng = np.random.default_rng(6)
    picture = np.full((SIZE, SIZE), 0.5)
    picture[:, : SIZE // 2] += 0.15 * rng.standard_normal((SIZE, SIZE // 2))
    roughness = pbr_classic.derive(np.clip(picture, 0, 1), ["roughness"])["roughness"]
    grainy, plain = roughness[:, 8:48].mean(), roughness[:, 80:120].mean()
    assert grainy > plain + 0.2


def test_metallic_is_zero_and_albedo_is_the_input():
    rng = np.random.default_rng(7)
    picture = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    made = pbr_classic.derive(picture, ["metallic", "albedo"])
    assert np.array_equal(made["metallic"], np.zeros((SIZE, SIZE), np.float32))
    assert made["albedo"].dtype == np.float32
    assert np.allclose(made["albedo"], picture / 255.0, atol=1e-7)
