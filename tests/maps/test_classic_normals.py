"""Classic normal maps against a height field with known normals: a spherical cap (a dome).

Tangent space, OpenGL convention: +X to the right, +Y (green) toward the top of the picture,
+Z out of the surface; row 0 is the top row. A dome's right side tilts toward +X (red above
0.5), its top side toward +Y (green above 0.5).
"""

import numpy as np
import pytest

from core import pbr_classic

SIZE = 256
SPHERE_RADIUS = 100.0  # pixels
RIM_TILT = 60  # degrees: where the cap meets the flat ground (a kink, left out of the check)
CHECKED_TILT = 50  # degrees: the check covers the cap up to this tilt
# Central differences get a slope wrong by h''' / 6 (one-pixel steps). Along a circle of radius
# R at tilt t, |h'''| = 3 sin t / (R^2 cos^5 t): at R = 100 px and t = 50 degrees that is
# 2.1e-3, a slope error of 3.5e-4 and, divided by 1 + tan^2 t, a normal 1.4e-4 rad (0.0083
# degrees) off. That is the worst point of the checked disc, so it bounds the mean; float32
# rounding adds about 1e-5 degrees. A flipped green channel is wrong by twice each normal's
# Y tilt: tens of degrees on average.
MEAN_ERROR_BOUND_DEG = 0.0083


def _dome():
    """(height in pixels, analytic unit normals, mask of the checked disc)."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    x, y = cols - SIZE / 2, SIZE / 2 - rows  # y grows toward the top of the picture
    r2 = x * x + y * y
    z = np.sqrt(np.maximum(SPHERE_RADIUS**2 - r2, 0.0))
    rim = SPHERE_RADIUS * np.sin(np.radians(RIM_TILT))
    height = np.where(r2 < rim**2, z - SPHERE_RADIUS * np.cos(np.radians(RIM_TILT)), 0.0)
    exact = np.stack([x, y, z], axis=-1) / SPHERE_RADIUS
    checked = r2 <= (SPHERE_RADIUS * np.sin(np.radians(CHECKED_TILT))) ** 2
    return height, exact, checked


def _angles_deg(a, b):
    """Angles between vectors; atan2 keeps small angles exact (arccos of a float32 dot
    product cannot resolve less than about 0.02 degrees)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), (a * b).sum(-1)))


def mean_dome_error_deg(normal_map):
    """Mean angle (degrees) between a dome's encoded normal map and its analytic normals."""
    _, exact, checked = _dome()
    return float(_angles_deg(np.asarray(normal_map) * 2.0 - 1.0, exact)[checked].mean())


def assert_dome_orientation(normal_map, step=40, lean=0.1):
    """``step`` pixels right of the top the map leans +X (red at least ``lean`` above 0.5),
    left of it -X; above it +Y (green above 0.5), below it -Y; the top points straight out."""
    centre = SIZE // 2
    red, green, blue = (normal_map[..., channel] - 0.5 for channel in range(3))
    assert red[centre, centre + step] > lean and red[centre, centre - step] < -lean
    assert green[centre - step, centre] > lean and green[centre + step, centre] < -lean
    assert blue[centre, centre] > 0.49


def _flip_green(normal_map):
    flipped = np.array(normal_map)
    flipped[..., 1] = 1.0 - flipped[..., 1]
    return flipped


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("height_unit_px", [1.0, 60.0])
def test_dome_normals_match_the_analytic_ones(height_unit_px, wrap):
    """Also with the height stored in units of 60 px (as a 0..1 map is) and ``strength``
    turning it back into pixels, and with the edges wrapping (the dome stays clear of them)."""
    height, _, _ = _dome()
    unit = pbr_classic.normals_from_height((height / height_unit_px).astype(np.float32),
                                           wrap, wrap, strength=height_unit_px)
    normal_map = pbr_classic.encode_normals(unit)
    assert normal_map.dtype == np.float32 and normal_map.shape == (SIZE, SIZE, 3)
    assert np.allclose(np.linalg.norm(unit, axis=-1), 1.0, atol=1e-6)
    assert normal_map.min() >= 0.0 and normal_map.max() <= 1.0
    assert_dome_orientation(normal_map)
    assert mean_dome_error_deg(normal_map) <= MEAN_ERROR_BOUND_DEG


def test_a_flipped_green_channel_fails_the_dome_checks():
    """The DirectX convention (green down) must not pass for OpenGL: the same checks fail."""
    height, _, _ = _dome()
    flipped = _flip_green(pbr_classic.encode_normals(pbr_classic.normals_from_height(height)))
    assert mean_dome_error_deg(flipped) > 10 * MEAN_ERROR_BOUND_DEG
    with pytest.raises(AssertionError):
        assert_dome_orientation(flipped)


def test_a_bright_bump_in_a_picture_becomes_a_dome_in_the_normal_map():
    """The whole engine: a bright spot (about as wide as the coarsest relief the engine
    reads at this size) is raised, so its normals lean outward the OpenGL way; the same map
    with green flipped fails the check."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    r2 = (rows - SIZE // 2) ** 2 + (cols - SIZE // 2) ** 2
    picture = np.repeat((0.2 + 0.6 * np.exp(-r2 / (2 * 6.0**2)))[..., None], 3, axis=2)
    normal_map = pbr_classic.derive(picture, ["normal"])["normal"]
    assert_dome_orientation(normal_map, step=5, lean=0.03)
    with pytest.raises(AssertionError):
        assert_dome_orientation(_flip_green(normal_map), step=5, lean=0.03)


def test_a_flat_height_gives_normals_straight_out():
    normals = pbr_classic.normals_from_height(np.full((16, 16), 0.5, np.float32), True, True, 50.0)
    assert np.array_equal(normals, np.broadcast_to(np.float32([0, 0, 1]), (16, 16, 3)))
