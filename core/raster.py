"""Triangles to pixels in numpy: which triangle covers each pixel centre, and where inside it.

Used twice by projection: triangles seen by a view camera (with a depth test, giving the depth,
object and UV of every pixel) and triangles laid out in UV space (giving the surface point of
every texel). Every candidate pixel of every triangle's bounding box is tested at once, in chunks
of candidates that bound the memory (a large triangle's split over several), so no Python loop
runs per triangle.
"""

from __future__ import annotations

import numpy as np

CHUNK = 1_000_000  # candidate pixels tested at once (about 130 MB of temporaries)
_EDGE_SLACK = 1e-6  # pixels on a shared edge belong to both triangles: no cracks


def rasterize(corners: np.ndarray, width: int, height: int,
              nearness: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cover a ``height`` x ``width`` grid with triangles.

    ``corners``: (T, 3, 2) corner positions in pixels, x to the right and y down the rows, the
    centre of pixel (row i, column j) at (j + 0.5, i + 0.5). ``nearness``: (T, 3) values that
    vary linearly across the picture (1 / depth for a perspective view, -depth for an
    orthographic one); where triangles overlap, the largest wins. Without it, any one does.

    Returns the covering triangle per pixel (H x W int64, -1 where none) and the pixel centre's
    barycentric weights in that triangle (H x W x 3 float64, measured on the picture plane)."""
    corners = np.asarray(corners, dtype=np.float64)
    triangle = np.full(width * height, -1, dtype=np.int64)
    weights = np.zeros((width * height, 3), dtype=np.float64)
    best = np.full(width * height, -np.inf)
    if len(corners) == 0:
        return triangle.reshape(height, width), weights.reshape(height, width, 3)
    x0 = np.clip(np.ceil(corners[..., 0].min(1) - 0.5), 0, width).astype(np.int64)
    x1 = np.clip(np.floor(corners[..., 0].max(1) - 0.5), -1, width - 1).astype(np.int64)
    y0 = np.clip(np.ceil(corners[..., 1].min(1) - 0.5), 0, height).astype(np.int64)
    y1 = np.clip(np.floor(corners[..., 1].max(1) - 0.5), -1, height - 1).astype(np.int64)
    box_width = np.maximum(x1 - x0 + 1, 0)
    counts = box_width * np.maximum(y1 - y0 + 1, 0)
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    area = _cross(b - a, c - a)
    ids = np.nonzero((counts > 0) & (np.abs(area) > 1e-12))[0]
    # Barycentric weights of b and c are linear in the pixel position: w = kx * x + ky * y + k0.
    safe = np.where(area == 0, 1.0, area)
    kb = np.stack([(c[:, 1] - a[:, 1]), -(c[:, 0] - a[:, 0]), a[:, 1] * (c[:, 0] - a[:, 0])
                   - a[:, 0] * (c[:, 1] - a[:, 1])], axis=-1) / safe[:, None]
    kc = np.stack([-(b[:, 1] - a[:, 1]), (b[:, 0] - a[:, 0]), a[:, 0] * (b[:, 1] - a[:, 1])
                   - a[:, 1] * (b[:, 0] - a[:, 0])], axis=-1) / safe[:, None]
    # Each triangle's candidates in pieces of at most CHUNK, so one huge triangle is split too.
    pieces = -(-counts[ids] // CHUNK)
    piece_tri = np.repeat(ids, pieces)
    piece_start = (np.arange(len(piece_tri)) - np.repeat(np.cumsum(pieces) - pieces, pieces)) * CHUNK
    piece_len = np.minimum(counts[piece_tri] - piece_start, CHUNK)
    ends = np.cumsum(piece_len)
    start = 0
    while start < len(piece_tri):
        before = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, before + CHUNK, side="right")), start + 1)
        part = slice(start, stop)
        start = stop
        n = piece_len[part]
        # Per-triangle values repeated along its candidates (sequential copies, no gathers).
        ids_here = piece_tri[part]
        tri = np.repeat(ids_here, n)
        offset = (np.repeat(piece_start[part], n) + np.arange(int(n.sum()))
                  - np.repeat(np.cumsum(n) - n, n))
        row_width = np.repeat(box_width[ids_here], n)
        px = np.repeat(x0[ids_here], n) + offset % row_width
        py = np.repeat(y0[ids_here], n) + offset // row_width
        cx, cy = px + 0.5, py + 0.5
        wb = np.repeat(kb[ids_here, 0], n) * cx + np.repeat(kb[ids_here, 1], n) * cy \
            + np.repeat(kb[ids_here, 2], n)
        wc = np.repeat(kc[ids_here, 0], n) * cx + np.repeat(kc[ids_here, 1], n) * cy \
            + np.repeat(kc[ids_here, 2], n)
        wa = 1.0 - wb - wc
        inside = (wa >= -_EDGE_SLACK) & (wb >= -_EDGE_SLACK) & (wc >= -_EDGE_SLACK)
        tri, pixel = tri[inside], (py * width + px)[inside]
        bary = np.stack([wa[inside], wb[inside], wc[inside]], axis=-1)
        if nearness is None:
            triangle[pixel], weights[pixel] = tri, bary
            continue
        near = (bary * nearness[tri]).sum(-1)
        order = np.lexsort((-near, pixel))  # by pixel, nearest first within each pixel
        pixel, tri, bary, near = pixel[order], tri[order], bary[order], near[order]
        first = np.r_[True, pixel[1:] != pixel[:-1]]
        pixel, tri, bary, near = pixel[first], tri[first], bary[first], near[first]
        wins = near > best[pixel]
        pixel = pixel[wins]
        triangle[pixel], weights[pixel], best[pixel] = tri[wins], bary[wins], near[wins]
    return triangle.reshape(height, width), weights.reshape(height, width, 3)


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
