"""Overlapping tiles over an image, for work done one tile at a time (tiled upscaling).

A plan places tiles of one side length over a height x width image so that neighbours overlap.
On an axis that wraps (a seamless texture), the image is treated as a ring: tiles are spread
evenly around it and the last ones run over the edge onto the first pixels, so the seam between
the right edge and the left edge lies inside a tile like any other place. Without wrapping,
tiles stay inside the image (the first starts at 0, the last ends at the edge).

Each tile gets blend weights: 1 in its middle, a smooth ramp down across the overlap, and no
ramp where it meets the image border (nothing else covers those pixels). The weights are
separable (rows times columns) and normalised per axis, so over every pixel the weights of the
tiles that cover it sum to exactly one. Plain numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Share of a tile that overlaps its neighbour by default: wide enough for the ramp to hide the
# join, small enough that a 4096 px image takes few tiles.
DEFAULT_OVERLAP_SHARE = 4


@dataclass(frozen=True)
class AxisPlan:
    """Where the tiles lie along one axis: ``starts`` of pieces ``span`` pixels long on an axis
    ``length`` pixels long; with ``wrap`` a piece may run over the end onto the start."""

    length: int
    span: int
    starts: tuple[int, ...]
    overlap: int
    wrap: bool

    @property
    def whole(self) -> bool:
        """One piece covers the whole axis (from 0 to the end, without wrapping)."""
        return len(self.starts) == 1 and self.span == self.length

    def indices(self, start: int) -> np.ndarray:
        """The pixel indices of the piece starting at ``start`` (taken around the ring)."""
        return (start + np.arange(self.span)) % self.length

    @cached_property
    def weights(self) -> tuple[np.ndarray, ...]:
        """One weight per pixel of each piece (float64), summing to one over every pixel."""
        pieces = [(self.indices(start), self._ramp(start)) for start in self.starts]
        total = np.zeros(self.length)
        for where, weight in pieces:
            np.add.at(total, where, weight)
        return tuple(weight / total[where] for where, weight in pieces)

    def _ramp(self, start: int) -> np.ndarray:
        """A raised-cosine ramp over ``overlap`` pixels at each end that meets a neighbour;
        never exactly 0, so every pixel keeps some weight."""
        weight = np.ones(self.span)
        if self.whole or self.overlap == 0:
            return weight
        rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(self.overlap) + 0.5) / self.overlap)
        if self.wrap or start > 0:
            weight[:self.overlap] = np.minimum(weight[:self.overlap], rise)
        if self.wrap or start + self.span < self.length:
            weight[-self.overlap:] = np.minimum(weight[-self.overlap:], rise[::-1])
        return weight


@dataclass(frozen=True)
class Tile:
    """One tile of a plan: its top-left pixel (``top`` may run past the bottom edge on a wrapped
    axis, continuing at row 0), its size and its index in the plan's rows and columns."""

    top: int
    left: int
    height: int
    width: int
    row: int
    column: int


@dataclass(frozen=True)
class TilePlan:
    """Tiles covering a ``rows.length`` x ``columns.length`` image, row by row."""

    rows: AxisPlan
    columns: AxisPlan

    @property
    def tiles(self) -> list[Tile]:
        """Every tile, row by row."""
        return [Tile(top, left, self.rows.span, self.columns.span, row, column)
                for row, top in enumerate(self.rows.starts)
                for column, left in enumerate(self.columns.starts)]

    def weight(self, tile: Tile) -> np.ndarray:
        """``tile``'s blend weights (height x width, float64); all tiles' weights over a pixel
        sum to one."""
        return np.outer(self.rows.weights[tile.row], self.columns.weights[tile.column])

    def cut(self, pixels: np.ndarray, tile: Tile) -> np.ndarray:
        """The pixels of ``tile`` from an image the plan's size (H x W or H x W x C), wrapping
        around the edges where the tile does."""
        return pixels[np.ix_(self.rows.indices(tile.top), self.columns.indices(tile.left))]

    def add(self, canvas: np.ndarray, tile: Tile, pixels: np.ndarray) -> None:
        """Add ``pixels`` (the tile's new content) times the tile's weights into ``canvas``.

        Within one tile no pixel index repeats (a piece is never longer than its axis), so a
        plain fancy-index addition is exact.
        """
        weight = self.weight(tile)
        if pixels.ndim == 3:
            weight = weight[..., None]
        where = np.ix_(self.rows.indices(tile.top), self.columns.indices(tile.left))
        canvas[where] += (pixels * weight).astype(canvas.dtype)


def plan_axis(length: int, tile: int, overlap: int | None = None, wrap: bool = False,
              align: int = 1) -> AxisPlan:
    """Pieces of ``tile`` pixels over an axis of ``length``, neighbours overlapping by at least
    ``overlap`` (default a quarter of the tile). An axis no longer than a tile is one piece.

    Every start is a multiple of ``align`` (``length`` and ``tile`` must be too): a model that
    works on a grid of ``align`` pixels (a VAE's latent) then puts its grid in the same place
    in every tile, and overlapping tiles blend like with like.
    """
    if length < 1 or tile < 1 or align < 1:
        raise ValueError(f"length, tile and align must be positive, got {length}, {tile} and {align}")
    overlap = tile // DEFAULT_OVERLAP_SHARE if overlap is None else overlap
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be at least 0 and below the tile ({tile}), got {overlap}")
    if length <= tile:
        return AxisPlan(length, length, (0,), 0, wrap)
    if length % align or tile % align:
        raise ValueError(f"length ({length}) and tile ({tile}) must be multiples of align ({align})")
    # Planned in units of ``align``; the overlap rounds up so it is never less than asked.
    units, span, over = length // align, tile // align, -(-overlap // align)
    if over >= span:
        raise ValueError(f"overlap {overlap} leaves no stride in tiles of {tile} aligned to {align}")
    stride = span - over
    if wrap:
        # Around a ring every piece has a neighbour on both sides: evenly spread, so each step
        # (units / count, rounded) is at most the stride.
        count = math.ceil(units / stride)
        starts = (round(i * units / count) for i in range(count))
    else:
        count = math.ceil((units - over) / stride)
        starts = (round(i * (units - span) / (count - 1)) for i in range(count))
    return AxisPlan(length, tile, tuple(start * align for start in starts), overlap, wrap)


def plan_tiles(height: int, width: int, tile: int, overlap: int | None = None,
               wrap_y: bool = False, wrap_x: bool = False, align: int = 1) -> TilePlan:
    """The tiles (``tile`` pixels a side, or the image's side where it is smaller) covering a
    ``height`` x ``width`` image; ``wrap_y``/``wrap_x`` make the rows/columns a ring; tiles
    start on multiples of ``align`` (see ``plan_axis``)."""
    return TilePlan(plan_axis(height, tile, overlap, wrap_y, align),
                    plan_axis(width, tile, overlap, wrap_x, align))
