"""Marigold's camera-space normals become tangent-space normal maps the right way up.

A synthetic prediction stands in for the model: the camera-space normals of a dome in the
middle of a flat texture, in the convention diffusers documents for ``MarigoldNormalsPipeline``
(X right, Y up toward the top row, Z toward the viewer, rows top to bottom). Its right slope
must come out red (+X), its top slope green (+Y, OpenGL: what Blender's Normal Map node reads).
A broken conversion that flips green (reading rows bottom-up, or DirectX) is shown to fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.normal_space import MIN_Z, camera_to_tangent
from core.pbr_classic import encode_normals

SIZE = 64


def dome_prediction(tilt_degrees: float = 0.0) -> np.ndarray:
    """Camera-space normals (H x W x 3, -1..1) of a spherical cap of radius 20 px in a flat
    plane, the whole surface leaned back by ``tilt_degrees`` about the X axis (its top away from
    the viewer, as a floor photographed at an angle looks: its normal turns toward +Y)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    dx, up = x - SIZE / 2 + 0.5, SIZE / 2 - 0.5 - y  # up: toward the top row
    radius = 20.0
    inside = dx**2 + up**2 < radius**2
    z = np.sqrt(np.maximum(radius**2 - dx**2 - up**2, 0.0))
    normals = np.where(inside[..., None], np.stack([dx, up, z], axis=-1) / radius, [0.0, 0.0, 1.0])
    angle = np.radians(tilt_degrees)
    lean = np.array([[1, 0, 0], [0, np.cos(angle), np.sin(angle)], [0, -np.sin(angle), np.cos(angle)]])
    return (normals @ lean.T).astype(np.float32)


def check_dome_faces_right_and_up(colours: np.ndarray) -> None:
    """The dome's right slope is red (> 0.5), its left not; its top slope green, its bottom not;
    the flat plane around it is (0.5, 0.5, 1)."""
    row, col = SIZE // 2, SIZE // 2
    right, left = colours[row, col + 12], colours[row, col - 13]
    top, bottom = colours[row - 13, col], colours[row + 12, col]
    assert right[0] > 0.75 and left[0] < 0.25, (right, left)
    assert top[1] > 0.75 and bottom[1] < 0.25, (top, bottom)
    assert np.allclose(colours[2, 2], [0.5, 0.5, 1.0], atol=0.02), colours[2, 2]


def test_a_dome_faces_right_and_up_in_the_normal_map():
    check_dome_faces_right_and_up(encode_normals(camera_to_tangent(dome_prediction())))


def test_a_conversion_that_flips_green_fails_the_check():
    broken = camera_to_tangent(dome_prediction()) * np.array([1.0, -1.0, 1.0], dtype=np.float32)
    with pytest.raises(AssertionError):
        check_dome_faces_right_and_up(encode_normals(broken))


def test_a_leaning_surface_is_turned_flat_and_keeps_its_relief():
    leaning = dome_prediction(tilt_degrees=25)
    assert leaning[2, 2, 1] > 0.4  # the plane seen at an angle: its normal leans toward +Y
    tangent = camera_to_tangent(leaning)
    flat = np.mean(tangent.reshape(-1, 3), axis=0)
    assert np.allclose(flat / np.linalg.norm(flat), [0, 0, 1], atol=1e-4)
    check_dome_faces_right_and_up(encode_normals(tangent))
    upright = camera_to_tangent(dome_prediction())
    assert np.abs(tangent - upright).max() < 0.1  # one rotation: the relief is as predicted


def test_normals_are_unit_length_and_never_point_into_the_surface():
    noisy = np.random.default_rng(0).normal(size=(SIZE, SIZE, 3)).astype(np.float32)
    noisy[..., 2] += 1.5  # mostly facing the viewer, some pixels facing away
    tangent = camera_to_tangent(noisy)
    assert np.allclose(np.linalg.norm(tangent, axis=-1), 1.0, atol=1e-5)
    assert tangent[..., 2].min() >= MIN_Z * 0.99
    assert (noisy[..., 2] < 0).any()


def test_a_prediction_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="H x W x 3"):
        camera_to_tangent(np.zeros((SIZE, SIZE, 4), dtype=np.float32))
