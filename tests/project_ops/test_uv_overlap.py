"""The overlapping-UV check (``core.uv_overlap``): the share of used UV area covered twice."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from core import uv_overlap
from core.uv_overlap import overlap_share

SQUARE = np.array([[[0, 0], [1, 0], [1, 1]], [[0, 0], [1, 1], [0, 1]]], dtype=np.float64)


def test_neighbours_that_share_an_edge_do_not_overlap():
    assert overlap_share(SQUARE) == 0.0
    assert overlap_share(SQUARE[:, ::-1]) == 0.0  # the winding does not matter


def test_a_face_on_top_of_another_is_found():
    assert overlap_share(np.concatenate([SQUARE, SQUARE])) == 1.0
    # A triangle over an eighth of the square: an eighth of the used area is used twice.
    assert overlap_share(np.concatenate([SQUARE, SQUARE[:1] * 0.5])) == pytest.approx(0.125, abs=0.01)


def test_a_grid_of_islands_has_no_overlap_and_a_shifted_copy_has():
    cells = [SQUARE * 0.1 + (0.1 * i, 0.1 * j) for i in range(10) for j in range(10)]
    islands = np.concatenate(cells)
    assert overlap_share(islands) == 0.0
    assert overlap_share(np.concatenate([islands, islands[:2] + 0.05])) > 0.0


def test_degenerate_and_empty_input():
    assert overlap_share(np.zeros((0, 3, 2))) == 0.0
    assert overlap_share(np.zeros((4, 3, 2))) == 0.0  # faces with no UV area use none


def test_a_dense_mesh_costs_bounded_memory_and_work(monkeypatch):
    """40,000 triangles each over the whole square (10 million texel-triangle pairs at the
    coarsest raster): tested in bounded chunks, on a bounded number of pairs, still all overlap."""
    tested = []
    coverage = uv_overlap._coverage

    def counted(triangles, grid):
        tested.append(int(uv_overlap._pairs(triangles, grid).sum()))
        return coverage(triangles, grid)

    monkeypatch.setattr(uv_overlap, "_coverage", counted)
    dense = np.concatenate([SQUARE] * 20_000)
    tracemalloc.start()
    try:
        share = overlap_share(dense)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert share == 1.0
    assert sum(tested) <= uv_overlap.MAX_PAIRS
    assert max(tested) <= uv_overlap.CHUNK_PAIRS and peak < 100e6, (max(tested), peak)


def test_many_small_triangles_keep_the_fine_raster():
    """A mesh cheap enough for the full raster is tested at it: a small overlap is measured."""
    rng = np.random.default_rng(0)
    cells = [SQUARE * 0.01 + (0.01 * i, 0.01 * j) for i in range(100) for j in range(100)]
    islands = np.concatenate(cells + [SQUARE[:1] * 0.1])
    assert overlap_share(islands) == pytest.approx(0.005, abs=0.002)
    assert overlap_share(islands[rng.permutation(len(islands))]) == overlap_share(islands)
