"""The geometry of painting a mesh from several views, in numpy (no Blender).

A view is a square picture taken by a camera (``ViewCamera``). Views are placed on the subject's
bounding sphere (``camera_matrices``); each gives the ControlNet a depth picture
(``inverse_depth``); each texel of a mesh takes its colour from the views that see it, weighted
by how squarely they see it (``view_weights``); texels no view sees are filled from their
neighbours (``fill_unseen``).

Pictures are arrays with the top row first and x to the right; a pixel (row i, column j) has its
centre at (j + 0.5, i + 0.5). UV (u, v) maps to texel position (u * size, (1 - v) * size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FIELD_OF_VIEW = math.radians(30.0)  # of the cameras placed around a subject: mild perspective
FRAME_MARGIN = 1.05  # the bounding sphere fills the frame with this much room
FRONTALITY_POWER = 2.0  # weight = cos(angle between normal and view) ** power
PAINTED_WEIGHT = 0.1  # a texel counts as painted once a view saw it with this weight (~72 degrees)
FEATHER = 0.08  # of the picture's side: weights fade to 0 toward the picture's border
NEAREST_GREY, FARTHEST_GREY = 1.0, 0.15  # inverse depth over the subject; background is 0
MAX_VIEWS = 16  # cameras a projection may place around a subject
# Elevations of the placed views (degrees): asin(1 / sqrt(3)) puts 4 views on a tetrahedron's
# corners and 6 on an octahedron's; 25 degrees was the best ring between two poles (measured).
ALTERNATING_ELEVATION = math.degrees(math.asin(1 / math.sqrt(3)))
POLES_RING_ELEVATION = 25.0
POLE_ELEVATION = 89.0  # not 90: the view from above keeps a defined "up" (+Y of the picture)


@dataclass(frozen=True)
class ViewCamera:
    """A camera taking square pictures: ``matrix`` (4x4, camera to world, Blender's convention:
    looking down its -Z axis, +Y up), perspective with ``fov`` (radians, across the square) or
    orthographic with ``ortho_scale`` (world units across the square), ``size`` pixels a side.
    ``shift_x`` and ``shift_y`` move the frame sideways by that share of its side (a Blender
    camera's Shift); nothing nearer than ``clip_start`` or farther than ``clip_end`` (along the
    view axis) is seen."""

    matrix: np.ndarray
    size: int
    perspective: bool = True
    fov: float = FIELD_OF_VIEW
    ortho_scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    clip_start: float = 1e-6
    clip_end: float = math.inf

    @property
    def position(self) -> np.ndarray:
        return np.asarray(self.matrix, dtype=np.float64)[:3, 3]

    @property
    def backward(self) -> np.ndarray:
        """The camera's +Z axis, pointing back from the picture toward the viewer."""
        axis = np.asarray(self.matrix, dtype=np.float64)[:3, 2]
        return axis / np.linalg.norm(axis)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points (..., 3) -> picture x, picture y (pixels) and depth along the view axis."""
        return self.picture(self.local(points))

    def local(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) in the camera's own axes (it looks down -Z)."""
        inverse = np.linalg.inv(np.asarray(self.matrix, dtype=np.float64))
        return points @ inverse[:3, :3].T + inverse[:3, 3]

    def picture(self, local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points in the camera's axes (..., 3) -> picture x, picture y and depth."""
        depth = -local[..., 2]
        if self.perspective:
            half = math.tan(self.fov / 2)
            safe = np.where(depth > 1e-9, depth, 1e-9)
            ndc_x, ndc_y = local[..., 0] / (safe * half), local[..., 1] / (safe * half)
        else:
            ndc_x, ndc_y = local[..., 0] / (self.ortho_scale / 2), local[..., 1] / (self.ortho_scale / 2)
        ndc_x, ndc_y = ndc_x - 2 * self.shift_x, ndc_y - 2 * self.shift_y  # the frame moved by shift
        return (ndc_x + 1) * 0.5 * self.size, (1 - ndc_y) * 0.5 * self.size, depth

    def frontality(self, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """Cosine between each unit normal (N x 3) and the direction from its point (N x 3)
        toward the camera: 1 seen squarely, 0 edge-on, negative from behind."""
        if not self.perspective:
            return normals @ self.backward
        toward = self.position - points
        return np.einsum("ij,ij->i", normals, toward) / np.sqrt(np.einsum("ij,ij->i", toward, toward))

    def pixel_footprint(self, depth: np.ndarray) -> np.ndarray:
        """World size of one pixel at ``depth``."""
        if self.perspective:
            return depth * 2 * math.tan(self.fov / 2) / self.size
        return np.full_like(depth, self.ortho_scale / self.size)


def view_directions(views: int) -> list[tuple[float, float]]:
    """(elevation, azimuth) in degrees for ``views`` cameras around a subject, spread to leave as
    little of it unseen as that many views can (azimuth 0 looks from -Y, Blender's front view;
    the first view is the front one). 2, 4 and 6 views alternate above and below
    a ring (a pair of opposite views, a tetrahedron, an octahedron); 3 views look from above,
    from below and level, so the top and the underside are both seen; more views add a view
    from straight above and one from below to a ring (level up to 7 on it, alternating beyond).
    The share each count leaves unseen on a sphere is checked in
    tests/projection/test_projection_coverage.py."""
    if views < 1:
        raise ValueError(f"views is {views}; use at least 1")
    if views in (2, 4, 6):
        return _alternating_ring(views, ALTERNATING_ELEVATION)
    if views <= 3:
        return [(ALTERNATING_ELEVATION, 0.0), (-ALTERNATING_ELEVATION, 120.0), (0.0, 240.0)][:views]
    ring = views - 2
    elevation = 0.0 if ring <= 7 else POLES_RING_ELEVATION
    return _alternating_ring(ring, elevation) + [(POLE_ELEVATION, 0.0), (-POLE_ELEVATION, 0.0)]


def _alternating_ring(count: int, elevation: float) -> list[tuple[float, float]]:
    """``count`` azimuths evenly spread, at ``elevation`` above and below the ring in turn."""
    return [(elevation if i % 2 == 0 else -elevation, 360.0 * i / count) for i in range(count)]


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-to-world matrix of a camera at ``position`` looking at ``target``, world +Z up."""
    forward = np.asarray(target, dtype=np.float64) - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, (0.0, 0.0, 1.0))
    if np.linalg.norm(right) < 1e-6:  # looking straight up or down: +Y is up the picture
        right = np.cross(forward, (0.0, 1.0, 0.0))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    matrix = np.eye(4)
    matrix[:3, 0], matrix[:3, 1], matrix[:3, 2], matrix[:3, 3] = right, up, -forward, position
    return matrix


def camera_matrices(center: np.ndarray, radius: float, views: int,
                    fov: float = FIELD_OF_VIEW) -> list[np.ndarray]:
    """Camera-to-world matrices of ``views`` cameras (``view_directions``) looking at a sphere
    (``center``, ``radius``) from far enough that it fills the frame."""
    distance = FRAME_MARGIN * max(radius, 1e-6) / math.sin(fov / 2)
    matrices = []
    for elevation, azimuth in view_directions(views):
        el, az = math.radians(elevation), math.radians(azimuth)
        direction = np.array([math.sin(az) * math.cos(el), -math.cos(az) * math.cos(el), math.sin(el)])
        matrices.append(look_at(np.asarray(center, dtype=np.float64) + distance * direction, center))
    return matrices


def bounding_sphere(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (of the bounding box) and radius of a sphere holding every point (N x 3)."""
    center = (points.min(0) + points.max(0)) / 2
    return center, float(np.linalg.norm(points - center, axis=1).max())


def inverse_depth(depth: np.ndarray) -> np.ndarray:
    """Depth (H x W, inf where nothing) as ControlNets expect it: inverse depth scaled so the
    nearest surface is ``NEAREST_GREY``, the farthest ``FARTHEST_GREY``, the background 0."""
    hit = np.isfinite(depth)
    grey = np.zeros(depth.shape, dtype=np.float32)
    if not hit.any():
        return grey
    inverse = 1.0 / np.maximum(depth[hit], 1e-9)
    low, high = inverse.min(), inverse.max()
    scaled = (inverse - low) / (high - low) if high > low else np.ones_like(inverse)
    grey[hit] = FARTHEST_GREY + (NEAREST_GREY - FARTHEST_GREY) * scaled
    return grey


def depth_edges(depth: np.ndarray, perspective: bool = True, relative: float = 0.01) -> np.ndarray:
    """Pixels on a jump in depth (silhouettes, an occluder's border), on both sides of it:
    H x W bool. A jump shows as a second difference, along rows or columns, of the value that
    is linear across a flat surface (1 / depth in perspective, depth otherwise), so slanted
    flat surfaces are not taken for edges."""
    hit = np.isfinite(depth)
    safe = np.where(hit, depth, 0.0)
    linear = np.where(hit, 1.0 / np.maximum(safe, 1e-12), 0.0) if perspective else safe
    padded = np.pad(linear, 1, mode="reflect", reflect_type="odd")  # continues the slope
    centre = padded[1:-1, 1:-1]
    across = np.abs(padded[1:-1, :-2] + padded[1:-1, 2:] - 2 * centre)
    down = np.abs(padded[:-2, 1:-1] + padded[2:, 1:-1] - 2 * centre)
    scale = np.abs(centre) if perspective else np.abs(centre) + 1e-9
    edges = (np.maximum(across, down) > relative * scale) & hit
    background = ~np.pad(hit, 1, mode="edge")
    touches_background = (background[1:-1, :-2] | background[1:-1, 2:] | background[:-2, 1:-1]
                          | background[2:, 1:-1])
    return edges | (hit & touches_background)


def view_weights(camera: ViewCamera, points: np.ndarray, normals: np.ndarray,
                 depth: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How much each surface point (N x 3, unit normals N x 3) takes from one view.

    ``depth`` and ``edges`` are the view's depth picture and ``depth_edges``. A point counts only
    if it lies in the frame and the clip range, faces the camera, passes the depth test (the
    view saw a surface at its pixel, none nearer: a pixel of background shows nothing of the
    point) and is off the depth edges (where a pixel's colour may belong to what lies beside or
    in front of it); its weight is its frontality ** ``FRONTALITY_POWER``, faded toward the
    picture's border. Returns weights (N) and the points' picture x and y."""
    weights = np.zeros(len(points), dtype=np.float32)
    x_all, y_all = np.zeros(len(points)), np.zeros(len(points))
    frontality = camera.frontality(points, normals)
    facing = np.flatnonzero(frontality > 0)  # the rest cannot be seen: skip their work
    frontality = frontality[facing]
    x, y, point_depth = camera.project(points[facing])
    x_all[facing], y_all[facing] = x, y
    size = camera.size
    column, row = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    inside = ((column >= 0) & (column < size) & (row >= 0) & (row < size)
              & (point_depth >= camera.clip_start) & (point_depth <= camera.clip_end))
    column, row = np.clip(column, 0, size - 1), np.clip(row, 0, size - 1)
    # The depth picture holds the surface at pixel centres: a point elsewhere in the pixel of a
    # slanted surface differs by up to a pixel's footprint times the slope.
    slope = np.sqrt(np.clip(1 - frontality**2, 0, 1)) / np.maximum(frontality, 0.2)
    tolerance = camera.pixel_footprint(point_depth) * (1 + 1.5 * slope) + 1e-5 * np.abs(point_depth)
    seen_depth = depth[row, column]
    visible = (inside & np.isfinite(seen_depth) & (point_depth <= seen_depth + tolerance)
               & ~edges[row, column])
    border = np.minimum(np.minimum(x, size - x), np.minimum(y, size - y)) / (FEATHER * size)
    weight = np.clip(frontality, 0, 1) ** FRONTALITY_POWER * np.clip(border, 0, 1)
    weights[facing] = np.where(visible, weight, 0.0)
    return weights, x_all, y_all


def clip_near(values: np.ndarray, near: float) -> tuple[np.ndarray, np.ndarray]:
    """Triangles cut at a camera's near clip plane, as a renderer clips them.

    ``values``: (T, 3, K) per-corner values, the first three the corner in the camera's axes
    (depth = -z), the rest anything linear across the triangle (UVs). Corners nearer than
    ``near`` are cut away: a triangle wholly nearer is dropped, one with a corner nearer
    becomes a smaller triangle or two (the corners kept in their turning order). Returns the
    triangles (T', 3, K) and the index of the triangle each came from (T')."""
    values = np.asarray(values, dtype=np.float64)
    ahead = -values[..., 2] >= near
    count = ahead.sum(1)
    whole = np.flatnonzero(count == 3)
    parts, sources = [values[whole]], [whole]
    for kept in (1, 2):
        ids = np.flatnonzero(count == kept)
        # Turn each triangle so the corner alone on its side of the plane comes first.
        first = np.argmax(ahead[ids] if kept == 1 else ~ahead[ids], axis=1)
        order = (first[:, None] + np.arange(3)) % 3
        a, b, c = (values[ids, order[:, i]] for i in range(3))

        def cut(p, q):  # where the edge p-q meets the plane
            t = (near + p[:, 2:3]) / (p[:, 2:3] - q[:, 2:3])  # depth = -z reaches near
            return p + t * (q - p)

        if kept == 1:  # a ahead: the tip a, cut short along both its edges
            parts.append(np.stack([a, cut(a, b), cut(a, c)], axis=1))
            sources.append(ids)
        else:  # a behind: b and c stay, with the two cuts a quad, in two triangles
            ab, ac = cut(a, b), cut(a, c)
            parts += [np.stack([ab, b, c], axis=1), np.stack([ab, c, ac], axis=1)]
            sources += [ids, ids]
    return np.concatenate(parts), np.concatenate(sources)


def bilinear(picture: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``picture`` (H x W x C) sampled at picture positions ``x``, ``y`` (clamped to its edge);
    float32 (N x C)."""
    height, width, channels = picture.shape
    flat = np.ascontiguousarray(picture, dtype=np.float32).reshape(-1, channels)
    fx = np.clip(np.asarray(x, dtype=np.float32) - 0.5, 0, width - 1)
    fy = np.clip(np.asarray(y, dtype=np.float32) - 0.5, 0, height - 1)
    x0, y0 = fx.astype(np.int64), fy.astype(np.int64)  # floor: both are >= 0
    tx, ty = (fx - x0)[:, None], (fy - y0)[:, None]
    step_x = (x0 < width - 1).astype(np.int64)
    step_y = np.where(y0 < height - 1, width, 0)
    corner = y0 * width + x0
    top = flat[corner] * (1 - tx) + flat[corner + step_x] * tx
    bottom = flat[corner + step_y] * (1 - tx) + flat[corner + step_y + step_x] * tx
    return top * (1 - ty) + bottom * ty


def uv_to_texel(uv: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """UV coordinates (..., 2) -> texel x and y of a ``size`` square texture, top row first."""
    return uv[..., 0] * size, (1 - uv[..., 1]) * size


def fill_unseen(colour: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``colour`` (H x W x C) with the texels where ``known`` is False filled from the known
    ones (push-pull: averages over ever coarser grids, blended back down). Known texels keep
    their values; with nothing known the result is 0.5 grey."""
    if not known.any():
        return np.full(colour.shape, 0.5, dtype=np.float32)
    weight = known.astype(np.float32)[..., None]
    levels = [(np.asarray(colour, dtype=np.float32) * weight, weight)]
    while max(levels[-1][1].shape[:2]) > 1:
        total, count = levels[-1]
        levels.append((_halve(total), _halve(count)))
    total, count = levels[-1]
    filled = total / np.maximum(count, 1e-12)
    for total, count in reversed(levels[:-1]):
        height, width = total.shape[:2]
        coarse = np.repeat(np.repeat(filled, 2, axis=0), 2, axis=1)[:height, :width]
        share = np.minimum(count, 1.0)
        filled = total / np.maximum(count, 1e-12) * share + coarse * (1 - share)
    return filled.astype(np.float32)


def spread_outside(marked: np.ndarray, covered: np.ndarray, steps: int = 2) -> np.ndarray:
    """``marked`` (H x W bool) grown ``steps`` texels into the texels outside the UV islands
    (``covered`` False), so sampling at an island's rim reads the rim's own state."""
    marked = marked.copy()
    outside = ~covered
    for _ in range(steps):
        padded = np.pad(marked, 1)
        near = padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
        marked |= near & outside
    return marked


def _halve(values: np.ndarray) -> np.ndarray:
    """Sums over 2 x 2 blocks (odd sizes padded with zeros)."""
    height, width = values.shape[:2]
    padded = np.pad(values, ((0, height % 2), (0, width % 2), (0, 0)))
    return padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2]
