"""A seamless texture gives seamless Marigold maps; without seamless they do not tile.

Each Marigold pipeline shrinks the picture to its processing size and pads the shorter side
with repeated edge pixels, so a map made without wrapping jumps where it meets its own
opposite edge on that side. The measure: the mean jump between the last and the first row (or
column), over the mean jump between neighbouring rows inside the map. For a map that tiles the
seam is just another pair of neighbours (about 1); for one that does not it is two or three
times larger. The median over all six maps is compared, on the padded axis of a wide and of a
tall picture, for each seamless mode: "off" and the other axis are the broken variants.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from backend.maps_marigold import fold_back, wrap_pad

TILES = 1.3  # a map that tiles: the seam jumps no more than this many times an inside jump
BREAKS = 1.6  # a map that does not: its seam jumps at least this many times more


def seam_ratio(pixels: np.ndarray, axis: int) -> float:
    """Mean jump across the seam on ``axis`` (0: last to first row, 1: last to first column)
    over the mean jump between neighbours inside."""
    values = pixels.astype(np.float64).reshape(*pixels.shape[:2], -1)
    inside = np.abs(np.diff(values, axis=axis)).mean()
    seam = np.abs(np.take(values, 0, axis=axis) - np.take(values, -1, axis=axis)).mean()
    return seam / inside


@pytest.fixture(scope="module")
def pictures(tmp_path_factory, tiling_texture) -> dict[int, str]:
    """{padded axis: PNG}: a wide picture (its rows are padded) and a tall one (its columns)."""
    folder = tmp_path_factory.mktemp("seam-pictures")
    found = {}
    for axis, (width, height) in ((0, (96, 64)), (1, (64, 96))):
        path = folder / f"tiles-{width}x{height}.png"
        Image.fromarray(np.rint(tiling_texture(width, height) * 255).astype(np.uint8)).save(path)
        found[axis] = str(path)
    return found


@pytest.mark.parametrize("mode", ["off", "x", "y", "xy"])
@pytest.mark.parametrize("axis", [0, 1], ids=["rows", "columns"])
def test_maps_tile_exactly_along_the_seamless_axes(backend, maps_request, pictures, mode, axis):
    final = backend.request(maps_request(image=pictures[axis], seamless=mode))
    assert final["type"] == "result", final
    ratios = [seam_ratio(np.asarray(Image.open(file["path"])), axis) for file in final["files"]]
    assert len(ratios) == 6
    wraps = ("x" if axis == 1 else "y") in mode
    if wraps:
        assert np.median(ratios) < TILES, ratios
    else:
        assert np.median(ratios) > BREAKS, ratios


@pytest.mark.parametrize("wrap_x, wrap_y", [(True, False), (False, True), (True, True)])
def test_folding_back_blends_the_copy_s_prediction_into_the_first_pixels(tiling_texture, wrap_x, wrap_y):
    """The prediction is the padded picture, plus 1 on the padded copy, so the fold's blend shows:
    on a padded axis the first pixel is all copy (+1), the copy's share falls linearly to none at
    the margin, and where both axes are padded the picture's own share is the product of the two."""
    picture = tiling_texture(40, 24)
    padded, margins = wrap_pad(picture, wrap_x, wrap_y)
    assert padded.shape[:2] == (24 + margins[0], 40 + margins[1])
    assert (margins[0] > 0) == wrap_y and (margins[1] > 0) == wrap_x
    copy = np.ones(padded.shape[:2], np.float32)
    copy[:24, :40] = 0
    folded = fold_back(padded + copy[..., None], picture.shape[:2], margins)

    def own_share(size: int, margin: int) -> np.ndarray:
        return np.minimum(np.arange(size) / margin, 1.0) if margin else np.ones(size)

    copy_share = 1 - own_share(24, margins[0])[:, None] * own_share(40, margins[1])[None, :]
    assert np.allclose(folded, picture + copy_share[..., None], atol=1e-5)


def test_the_first_column_continues_from_the_padded_copy():
    """The fold's first column is the prediction of the copy that follows the last column, so
    the last and first columns of the map are neighbours in one prediction."""
    prediction = np.arange(10 * 20, dtype=np.float32).reshape(10, 20, 1)  # columns 0..19
    folded = fold_back(prediction, (10, 12), (0, 8))
    assert np.array_equal(folded[:, 0], prediction[:, 12])
    assert np.array_equal(folded[:, 11], prediction[:, 11])
    assert np.array_equal(folded[:, 8:], prediction[:, 8:12])
