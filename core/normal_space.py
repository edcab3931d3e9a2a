"""From a camera-space normal prediction to a tangent-space normal map.

Marigold predicts, for every pixel, the surface normal in the camera's frame: an H x W x 3
array with values in -1..1, rows top to bottom, and axes X to the right of the picture, Y up
(toward its top row) and Z toward the viewer (diffusers' ``MarigoldNormalsPipeline`` and its
``visualize_normals``). A texture is a flat surface seen head-on, so that frame is the
texture's tangent frame in the OpenGL convention Blender's Normal Map node reads: +X along U
(right), +Y along V (up the picture), +Z out of the surface. What remains to do:

- the whole prediction can lean (a photograph taken at an angle, or the model reading the
  texture as a floor that recedes): a flat texture's mean normal must be +Z, so every normal is
  turned by the one rotation that takes the mean normal to +Z. One rotation for all pixels keeps
  the relief as predicted, and a seamless map stays seamless;
- a tangent-space normal never points into the surface: after that rotation Z is kept at or
  above ``MIN_Z``, and every normal is made unit length again.

numpy only: the backend and Blender can both use it.
"""

from __future__ import annotations

import numpy as np

# The least Z a tangent-space normal keeps (a slope of about 87 degrees): steeper predictions
# are noise at a silhouette, and Z <= 0 would point into the surface.
MIN_Z = 0.05
_EPSILON = 1e-6


def camera_to_tangent(normals) -> np.ndarray:
    """Unit tangent-space normals (H x W x 3 float32, OpenGL: +Y toward the top of the
    picture) of a camera-space prediction (H x W x 3, X right, Y up, Z toward the viewer)."""
    field = np.asarray(normals, dtype=np.float32)
    if field.ndim != 3 or field.shape[2] != 3:
        raise ValueError(f"a normal prediction must be H x W x 3; got shape {field.shape}")
    unit = _unit(field)
    mean = unit.reshape(-1, 3).mean(axis=0, dtype=np.float64)
    rotated = unit @ _rotation_to_z(mean).T.astype(np.float32)
    rotated[..., 2] = np.maximum(rotated[..., 2], MIN_Z)
    return _unit(rotated)


def _unit(vectors: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(length, _EPSILON)).astype(np.float32)


def _rotation_to_z(direction: np.ndarray) -> np.ndarray:
    """The 3 x 3 rotation taking ``direction`` to +Z by the shortest arc (Rodrigues); the
    identity when ``direction`` is too short to have one (normals that cancel out)."""
    length = float(np.linalg.norm(direction))
    if length < _EPSILON:
        return np.eye(3)
    d = direction / length
    cos = float(d[2])
    if cos < -1 + _EPSILON:  # facing straight away: half a turn about X
        return np.diag([1.0, -1.0, -1.0])
    # axis = d x z = (d_y, -d_x, 0); R = I + K + K^2 / (1 + cos) with K its cross-product matrix.
    k = np.array([[0.0, 0.0, -d[0]], [0.0, 0.0, -d[1]], [d[0], d[1], 0.0]])
    return np.eye(3) + k + (k @ k) / (1.0 + cos)
