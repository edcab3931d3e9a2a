"""Overlapping UVs, found by a cheap raster test (numpy only).

A projection bakes one colour per texel; faces whose UVs overlap share texels, so one of them
shows the other's colours. The UV triangles are rasterised at a coarse grid: a texel whose
centre lies inside more than one triangle is used twice. Centres exactly on a shared edge count
for neither triangle, so neighbours that only touch are not an overlap.
"""

from __future__ import annotations

import numpy as np

GRID = 256  # texels per side of the test raster: coarse, so the test costs little
MIN_GRID = 16  # the coarsest raster a dense mesh is tested at
MAX_PAIRS = 4_000_000  # texel-triangle pairs tested at most (bounds the time)
CHUNK_PAIRS = 100_000  # pairs tested at once (bounds the memory: some 200 bytes a pair)
WARN_SHARE = 0.005  # more than this share of the used UV area used twice is worth a warning
_EDGE = 1e-9  # a centre this close to an edge is on it, and counts for neither side


def overlap_share(triangles: np.ndarray, grid: int = GRID) -> float:
    """Share (0..1) of the UV area ``triangles`` use (T x 3 x 2 UV coordinates) that more
    than one triangle covers; the 0..1 square is rasterised at ``grid`` texels per side.

    The cost is bounded: past ``MAX_PAIRS`` texel-triangle pairs the raster gets coarser (the
    share, not the raster, is the answer), and when even ``MIN_GRID`` costs more, an even
    sample of the triangles (every k-th) is tested, which makes the share an estimate."""
    triangles = np.asarray(triangles, dtype=np.float64).reshape(-1, 3, 2)
    if len(triangles) == 0:
        return 0.0
    pairs = _pairs(triangles, grid)
    while pairs.sum() > MAX_PAIRS and grid > MIN_GRID:
        grid //= 2
        pairs = _pairs(triangles, grid)
    if pairs.sum() > MAX_PAIRS:
        step = -(-int(pairs.sum()) // MAX_PAIRS)
        triangles, pairs = triangles[::step], pairs[::step]
    counts = np.zeros(grid * grid, dtype=np.int64)
    for chunk in _chunks(pairs):
        counts += _coverage(triangles[chunk], grid)
    used = np.count_nonzero(counts)
    return float(np.count_nonzero(counts > 1) / used) if used else 0.0


def _chunks(pairs: np.ndarray):
    """Slices of consecutive triangles with at most ``CHUNK_PAIRS`` pairs each (a triangle with
    more, at most ``GRID`` squared, is a chunk alone)."""
    ends = np.cumsum(pairs)
    start = 0
    while start < len(pairs):
        before = ends[start] - pairs[start]
        end = max(int(np.searchsorted(ends, before + CHUNK_PAIRS, side="right")), start + 1)
        yield slice(start, end)
        start = end


def _boxes(triangles: np.ndarray, grid: int):
    """(points in texel units, lowest texel, widths, heights) of each triangle's bounding box."""
    points = triangles * grid - 0.5  # texel centres fall on whole numbers
    low = np.clip(np.ceil(points.min(axis=1)), 0, grid - 1).astype(np.int64)
    high = np.clip(np.floor(points.max(axis=1)), 0, grid - 1).astype(np.int64)
    return points, low, np.maximum(high - low + 1, 0)


def _pairs(triangles: np.ndarray, grid: int) -> np.ndarray:
    """Texel-triangle pairs the raster at ``grid`` tests, per triangle."""
    spans = _boxes(triangles, grid)[2]
    return spans[:, 0] * spans[:, 1]


def _coverage(triangles: np.ndarray, grid: int) -> np.ndarray:
    """How many triangles cover each texel centre (flat, ``grid`` * ``grid``)."""
    points, low, spans = _boxes(triangles, grid)
    widths = spans[:, 0]
    sizes = widths * spans[:, 1]
    owner = np.repeat(np.arange(len(triangles)), sizes)
    offset = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    x = low[owner, 0] + offset % widths[owner]
    y = low[owner, 1] + offset // np.maximum(widths[owner], 1)
    a, b, c = points[owner, 0], points[owner, 1], points[owner, 2]
    area = _cross(a, b, c)
    sign = np.sign(area)
    centre = np.stack([x, y], axis=-1).astype(np.float64)
    inside = np.abs(area) > _EDGE
    for start, end in ((a, b), (b, c), (c, a)):
        inside &= _cross(start, end, centre) * sign > _EDGE
    return np.bincount(y[inside] * grid + x[inside], minlength=grid * grid)


def _cross(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Twice the signed area of the triangles (a, b, c): which side of a->b each c lies on."""
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])

