"""The tile plan: coverage, weights that sum to one, wrap-around, and the size of big plans."""

from __future__ import annotations

import numpy as np
import pytest

from core.tiles import plan_axis, plan_tiles


def _weight_sum(plan) -> np.ndarray:
    total = np.zeros((plan.rows.length, plan.columns.length))
    for tile in plan.tiles:
        plan.add(total, tile, np.ones((tile.height, tile.width)))
    return total


def _coverage(plan) -> np.ndarray:
    count = np.zeros((plan.rows.length, plan.columns.length), dtype=int)
    for tile in plan.tiles:
        count[np.ix_(plan.rows.indices(tile.top), plan.columns.indices(tile.left))] += 1
    return count


@pytest.mark.parametrize("wrap", [(False, False), (True, True), (True, False), (False, True)])
@pytest.mark.parametrize("size", [(128, 128), (200, 136), (64, 300), (1000, 72)])
def test_every_pixel_is_covered_and_the_weights_sum_to_one(size, wrap):
    plan = plan_tiles(*size, tile=64, wrap_y=wrap[0], wrap_x=wrap[1])
    assert _coverage(plan).min() >= 1
    np.testing.assert_allclose(_weight_sum(plan), 1.0, rtol=0, atol=1e-12)
    for tile in plan.tiles:
        assert plan.weight(tile).min() > 0
        assert (tile.height, tile.width) == (min(64, size[0]), min(64, size[1]))


def test_neighbours_overlap_by_at_least_the_overlap():
    for wrap in (False, True):
        axis = plan_axis(1000, 64, overlap=16, wrap=wrap)
        ends = [start + axis.span for start in axis.starts]
        overlaps = [end - start for end, start in zip(ends, axis.starts[1:], strict=False)]
        if wrap:  # the last piece runs over the end onto the first
            overlaps.append(ends[-1] - (axis.starts[0] + axis.length))
        assert min(overlaps) >= 16, (wrap, overlaps)


def test_without_wrapping_tiles_stay_inside_the_image():
    plan = plan_tiles(200, 136, tile=64)
    for tile in plan.tiles:
        assert 0 <= tile.top and tile.top + tile.height <= 200
        assert 0 <= tile.left and tile.left + tile.width <= 136
    assert plan.rows.starts[0] == 0 and plan.rows.starts[-1] == 200 - 64


def test_a_tile_that_fits_the_whole_image_is_the_only_one():
    plan = plan_tiles(64, 48, tile=64, wrap_y=True, wrap_x=True)
    assert len(plan.tiles) == 1
    assert plan.rows.whole and plan.columns.whole
    np.testing.assert_array_equal(plan.weight(plan.tiles[0]), 1.0)


def test_the_wrapped_plan_is_periodic():
    """Around the ring there is no edge: every piece ramps at both ends (the one over the seam
    too), and turning the ring by one step gives the same plan."""
    axis = plan_axis(192, 64, overlap=16, wrap=True)
    step = 192 // len(axis.starts)
    assert all(start == i * step for i, start in enumerate(axis.starts))
    turned = sorted((start + step) % 192 for start in axis.starts)
    assert tuple(turned) == axis.starts
    first = axis.weights[0]
    for weight in axis.weights:
        np.testing.assert_allclose(weight, first, atol=1e-12)  # the same ramps at every place
    assert first[0] < 0.1 and first[-1] < 0.1


def test_the_wrapped_weights_run_smoothly_over_the_seam():
    """Laid out on the image, the weight of the tile that crosses the edge changes no more from
    the last pixel to the first than between neighbours inside."""
    plan = plan_tiles(64, 128, tile=64, overlap=16, wrap_x=True)
    crossing = [tile for tile in plan.tiles if tile.left + tile.width > plan.columns.length]
    assert len(crossing) == 1
    for tile in crossing:
        laid = np.zeros((plan.rows.length, plan.columns.length))
        plan.add(laid, tile, np.ones((tile.height, tile.width)))
        row = laid[tile.height // 2]
        assert abs(row[-1] - row[0]) <= np.abs(np.diff(row)).max()
        assert row[-1] > 0.5 and row[0] > 0.5  # the seam lies inside the tile, not at its rim


def test_tiles_cut_from_an_image_blend_back_to_it():
    """Cutting (with wrap-around) and adding with the weights loses nothing."""
    image = np.random.default_rng(0).random((200, 136, 3))
    for wrap in (False, True):
        plan = plan_tiles(200, 136, tile=64, wrap_y=wrap, wrap_x=wrap)
        canvas = np.zeros_like(image)
        for tile in plan.tiles:
            piece = plan.cut(image, tile)
            assert piece.shape == (tile.height, tile.width, 3)
            plan.add(canvas, tile, piece)
        np.testing.assert_allclose(canvas, image, atol=1e-12)


def test_a_cut_over_the_edge_takes_the_first_pixels():
    image = np.arange(10 * 10).reshape(10, 10)
    plan = plan_tiles(10, 10, tile=4, overlap=1, wrap_x=True)
    tile = next(tile for tile in plan.tiles if tile.left + tile.width > 10)
    columns = plan.cut(image, tile)[0] % 10
    assert list(columns) == [(tile.left + i) % 10 for i in range(4)]


@pytest.mark.parametrize("wrap", [False, True])
def test_a_4096_result_takes_few_tiles_of_the_tile_size(wrap):
    plan = plan_tiles(4096, 4096, tile=1024, wrap_y=wrap, wrap_x=wrap)
    assert len(plan.tiles) <= 36
    assert all((tile.height, tile.width) == (1024, 1024) for tile in plan.tiles)


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        plan_axis(100, 64, overlap=64)
    with pytest.raises(ValueError, match="positive"):
        plan_axis(0, 64)


@pytest.mark.parametrize("wrap", [False, True])
def test_aligned_tiles_start_on_the_grid_and_still_overlap(wrap):
    axis = plan_axis(200, 64, overlap=16, wrap=wrap, align=8)
    assert all(start % 8 == 0 for start in axis.starts)
    ends = [start + axis.span for start in axis.starts]
    assert min(end - start for end, start in zip(ends, axis.starts[1:], strict=False)) >= 16
    plan = plan_tiles(200, 136, tile=64, wrap_y=wrap, wrap_x=wrap, align=8)
    np.testing.assert_allclose(_weight_sum(plan), 1.0, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="multiples of align"):
        plan_axis(202, 64, align=8)
