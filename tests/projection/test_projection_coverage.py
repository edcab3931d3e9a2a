"""Cameras placed around a subject frame all of it and, together, see all of it; what no view
sees is reported as the unseen share and filled."""

import math

import numpy as np
import pytest
from projection_helpers import module, paint_views, scene_camera

from core import projection


def _sphere_points(count: int = 2000) -> np.ndarray:
    """Unit directions spread evenly over the sphere (a Fibonacci lattice)."""
    i = np.arange(count) + 0.5
    polar = np.arccos(1 - 2 * i / count)
    azimuth = math.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], -1)


@pytest.mark.parametrize("views", [2, 3, 4, 5, 6, 7, 8])
def test_every_camera_frames_the_whole_subject(views):
    center, radius = np.array([1.0, -2.0, 0.5]), 1.7
    points = center + radius * _sphere_points()
    for matrix in projection.camera_matrices(center, radius, views):
        x, y, depth = projection.ViewCamera(matrix, 100).project(points)
        assert (depth > 0).all()
        assert x.min() >= 0 and x.max() <= 100 and y.min() >= 0 and y.max() <= 100


def _facing(directions) -> np.ndarray:
    """For each point of a unit sphere: the best frontality any camera placed at ``directions``
    ((elevation, azimuth) pairs, as ``view_directions`` gives them) sees it with."""
    normals = _sphere_points()
    distance = projection.FRAME_MARGIN / math.sin(projection.FIELD_OF_VIEW / 2)
    best = np.full(len(normals), -1.0)
    for elevation, azimuth in directions:
        el, az = math.radians(elevation), math.radians(azimuth)
        where = distance * np.array([math.sin(az) * math.cos(el), -math.cos(az) * math.cos(el), math.sin(el)])
        camera = projection.ViewCamera(projection.look_at(where, np.zeros(3)), 64)
        best = np.maximum(best, camera.frontality(normals, normals))
    return best


def _ring_at_20_degrees(views: int) -> list[tuple[float, float]]:
    """A plain placement to compare with: a ring at +20 degrees, the fifth view from above."""
    ring = views - (views == 5)
    return [(20.0, 360.0 * i / ring) for i in range(ring)] + [(89.0, 0.0)] * (views == 5)


# Share of a sphere no camera faces at all (frontality <= 0), per count (0 from 4 views on). Two
# views each see a cap of ~76 degrees around them (the perspective hides the rim): 0.247 is left
# even when the caps do not overlap.
UNSEEN_AT_MOST = {2: 0.25, 3: 0.06}
PAINTED_FROM = 6  # from this many views every point faces a camera within ~72 degrees


@pytest.mark.parametrize("views", list(range(2, projection.MAX_VIEWS + 1)))
def test_the_views_cover_the_sphere_as_far_as_their_count_allows(views):
    best = _facing(projection.view_directions(views))
    unseen = float((best <= 0).mean())
    assert unseen <= UNSEEN_AT_MOST.get(views, 0.0), unseen
    if views >= PAINTED_FROM:
        # Every point of the sphere faces some camera within about 72 degrees: it gets painted.
        assert best.min() >= math.sqrt(projection.PAINTED_WEIGHT), best.min()
    elif views >= 4:
        assert best.min() > 0.05  # not merely grazed: seen at less than ~87 degrees


@pytest.mark.parametrize("views", [2, 3, 4, 5])
def test_a_ring_at_one_elevation_leaves_more_unseen(views):
    """The same measure tells placements apart: a ring at +20 degrees leaves the underside
    unseen, and fails the bounds the placed views meet."""
    ring = _facing(_ring_at_20_degrees(views))
    placed = _facing(projection.view_directions(views))
    assert (ring <= 0).mean() > (placed <= 0).mean()
    assert (ring <= 0).mean() > UNSEEN_AT_MOST.get(views, 0.0)


def test_fill_keeps_known_texels_and_fills_the_rest():
    colour = np.zeros((16, 16, 3), dtype=np.float32)
    known = np.zeros((16, 16), dtype=bool)
    colour[:, :8], known[:, :8] = (0.2, 0.4, 0.6), True
    filled = projection.fill_unseen(colour, known)
    assert np.array_equal(filled[known], colour[known])
    assert np.allclose(filled[~known], (0.2, 0.4, 0.6), atol=1e-6)


def _cube_seen_head_on(bpy):
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_cube_add(size=2.0, calc_uvs=True)
    scene_camera(bpy)
    return bpy.context.active_object


def test_one_view_of_a_cube_leaves_five_faces_unseen(bpy_module, addon, tmp_path):
    cube = _cube_seen_head_on(bpy_module)
    run = module(addon, "apply.projection_run").ProjectionRun(
        bpy_module.context, [cube], name="Head on", views=1, view_size=64, texture_size=128,
        uv_maps={cube.name: "UVMap"}, work_dir=tmp_path / "work")
    paint_views(run, tmp_path, lambda job: np.full((64, 64, 3), (0.8, 0.3, 0.1)))
    texture, unseen = run.finish()[cube.name]
    # The front face is one of six equal faces; its one-pixel depth-edge rim counts as unseen.
    assert 5 / 6 - 0.005 < unseen < 5 / 6 + 0.05, unseen
    assert texture.shape == (128, 128, 4) and texture.dtype == np.float32
    assert np.allclose(texture[..., :3], (0.8, 0.3, 0.1), atol=2 / 255)  # filled from what was seen
    assert (texture[..., 3] == 1).all()


def test_more_views_leave_less_unseen(bpy_module, addon, tmp_path):
    shares = {}
    for views in (2, 8):
        bpy_module.ops.wm.read_homefile(use_empty=True)
        bpy_module.ops.mesh.primitive_uv_sphere_add()
        sphere = bpy_module.context.active_object
        run = module(addon, "apply.projection_run").ProjectionRun(
            bpy_module.context, [sphere], name="Round", views=views, view_size=64, texture_size=128,
            uv_maps={sphere.name: "UVMap"}, work_dir=tmp_path / f"work-{views}")
        paint_views(run, tmp_path, lambda job: np.full((64, 64, 3), 0.5))
        shares[views] = run.finish()[sphere.name][1]
    assert shares[8] < 0.05 < shares[2], shares
