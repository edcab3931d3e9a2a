"""The numpy pieces of projection: the rasteriser and the per-view weights (no Blender)."""

import tracemalloc

import numpy as np
import pytest

from core import projection, raster


def test_rasteriser_covers_a_triangle_and_keeps_the_nearest():
    square = np.array([[[0, 0], [64, 0], [64, 64]], [[0, 0], [64, 64], [0, 64]]], dtype=np.float64)
    triangle, weights = raster.rasterize(square, 64, 64)
    assert (triangle >= 0).all()  # two triangles sharing an edge leave no crack
    assert np.allclose(weights.sum(-1), 1.0)
    behind = np.array([[[0, 0], [64, 0], [0, 64]]], dtype=np.float64)
    both = np.concatenate([square[:1], behind])
    triangle, _ = raster.rasterize(both, 64, 64, nearness=np.array([[1.0] * 3, [2.0] * 3]))
    # Where they overlap the second one (nearer: larger nearness) wins.
    assert triangle[5, 40] == 1 and triangle[40, 60] == 0


def _wall_points(count: int = 161) -> tuple[np.ndarray, np.ndarray]:
    """Points of a wall at y = 0 spanning x, z in -2..2 (wider than the views), facing -Y."""
    x, z = np.meshgrid(np.linspace(-2, 2, count), np.linspace(-2, 2, count))
    points = np.stack([x.ravel(), np.zeros(x.size), z.ravel()], axis=-1)
    return points, np.tile([0.0, -1.0, 0.0], (len(points), 1))


def _front_camera(size: int = 64) -> projection.ViewCamera:
    return projection.ViewCamera(projection.look_at(np.array([0.0, -5.0, 0.0]), np.zeros(3)), size)


def test_weights_favour_frontal_views_and_fade_at_the_border():
    points, normals = _wall_points()
    camera = _front_camera()
    depth = np.full((64, 64), 5.0)
    weights, x, y = projection.view_weights(camera, points, normals, depth, np.zeros((64, 64), bool))
    centre = np.argmin(np.linalg.norm(points, axis=1))
    assert weights[centre] > 0.99
    near_border = (np.minimum(x, 64 - x) < 1) & (np.minimum(y, 64 - y) > 20)
    outside = (x < 0) | (x > 64) | (y < 0) | (y > 64)
    assert near_border.any() and (weights[near_border] < 0.2).all()
    assert (weights[outside] == 0).all()
    back, _, _ = projection.view_weights(camera, points, -normals, depth, np.zeros((64, 64), bool))
    assert (back == 0).all()  # seen from behind
    slanted = projection.ViewCamera(projection.look_at(np.array([3.0, -4.0, 0.0]), np.zeros(3)), 64)
    side, _, _ = projection.view_weights(slanted, points, normals, depth + 10, np.zeros((64, 64), bool))
    assert 0 < side[centre] < weights[centre]


def test_depth_test_hides_what_is_behind():
    points, normals = _wall_points()
    camera = _front_camera()
    nearer = np.full((64, 64), 3.0)  # something at 3 units in front of the wall (at 5)
    weights, _, _ = projection.view_weights(camera, points, normals, nearer, np.zeros((64, 64), bool))
    assert (weights == 0).all()


def test_depth_edges_mark_jumps_not_slopes():
    x = np.arange(32, dtype=np.float64)
    slope = np.tile(1.0 / (0.1 + 0.01 * x), (32, 1))  # a slanted plane: 1 / depth is linear
    assert not projection.depth_edges(slope).any()
    step = slope.copy()
    step[:, 16:] += 2.0
    edges = projection.depth_edges(step)
    assert edges[:, 15].all() and edges[:, 16].all() and not edges[:, 5].any()


def test_a_point_over_background_is_not_seen():
    """Where the view saw nothing, its picture shows background: no point takes colour there,
    even one the depth picture cannot hide."""
    points, normals = _wall_points()
    camera = _front_camera()
    depth = np.full((64, 64), 5.0)
    depth[:, 32:] = np.inf  # the right half of the picture saw nothing
    weights, x, _ = projection.view_weights(camera, points, normals, depth, np.zeros((64, 64), bool))
    assert (weights[x >= 32] == 0).all()
    assert (weights[(x > 8) & (x < 30) & (weights > 0)] > 0).any()


def test_rasterising_a_huge_triangle_keeps_memory_bounded(monkeypatch):
    """One triangle's candidate pixels are split over chunks like many triangles' are: the
    temporaries stay near CHUNK candidates, however large the triangle."""
    quad = np.array([[[0, 0], [512, 0], [512, 512]], [[0, 0], [512, 512], [0, 512]]], dtype=np.float64)
    whole, whole_weights = raster.rasterize(quad, 512, 512)
    monkeypatch.setattr(raster, "CHUNK", 20_000)
    tracemalloc.start()
    try:
        triangle, weights = raster.rasterize(quad, 512, 512)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    results = triangle.nbytes + weights.nbytes + 512 * 512 * 8  # and the nearest-so-far buffer
    # Split, the temporaries come to about 20 chunk-sized float64 arrays (3 MB); unsplit, each
    # triangle's 131,000 candidates at once come to about 190 of them (31 MB). Allow 40.
    temporaries = peak - results
    assert temporaries < 40 * 20_000 * 8, f"temporaries {temporaries / 1e6:.1f} MB"
    assert np.array_equal(triangle, whole) and np.allclose(weights, whole_weights)


def test_near_plane_clipping_cuts_triangles_and_keeps_their_values():
    # Camera axes: depth is -z. Corner values: position and a UV that equals (x, depth).
    def triangle(*corners):
        return np.array([[x, y, z, x, -z] for x, y, z in corners], dtype=np.float64)

    whole = triangle((0, 0, -2), (1, 0, -3), (0, 1, -4))
    one_ahead = triangle((0, 0, -3), (1, 0, 1), (-1, 0, 1))  # two corners behind the camera
    two_ahead = triangle((0, 0, 1), (1, 0, -3), (-1, 0, -3))
    behind = triangle((0, 0, 1), (1, 0, 2), (0, 1, 3))
    clipped, source = projection.clip_near(np.stack([whole, one_ahead, two_ahead, behind]), 1.0)
    assert sorted(source.tolist()) == [0, 1, 2, 2]
    assert np.array_equal(clipped[source == 0][0], whole)
    assert (-clipped[..., 2] >= 1.0 - 1e-12).all()  # nothing nearer than the plane is left
    assert np.allclose(clipped[..., 3], clipped[..., 0]) and np.allclose(clipped[..., 4], -clipped[..., 2])
    area = lambda t: 0.5 * abs(np.cross(t[1, [0, 2]] - t[0, [0, 2]], t[2, [0, 2]] - t[0, [0, 2]]))  # noqa: E731
    # Both triangles have area 4 and span depths -1..3: the cut at depth 1 halves their height.
    assert area(clipped[source == 1][0]) == pytest.approx(4 * (2 / 4) ** 2)
    assert sum(area(t) for t in clipped[source == 2]) == pytest.approx(4 - 4 * (2 / 4) ** 2)
