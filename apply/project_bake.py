"""Baking view pictures into a mesh's UV texture: the surface point behind every texel, and
the colour and weight each view gives it.

The texels are found by laying the evaluated triangles out in UV space and rasterising them in
numpy (``core.raster``): it gives each texel's exact world position and shading normal at once,
in a fraction of the time a Cycles POSITION + NORMAL bake takes, and needs no image node in the
artist's materials (figures in ``bench/project_blender.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import projection, raster
from .project_render import MeshGeometry, ViewPasses


@dataclass
class TexelSurface:
    """The texels of a ``size`` square texture that the mesh's UV map covers (flat indices into
    the texture, top row first) and the world point and unit normal behind each."""

    size: int
    texels: np.ndarray  # N int64
    points: np.ndarray  # N x 3
    normals: np.ndarray  # N x 3

    @property
    def covered(self) -> np.ndarray:
        """size x size bool: texels inside the UV islands."""
        grid = np.zeros(self.size * self.size, dtype=bool)
        grid[self.texels] = True
        return grid.reshape(self.size, self.size)


def texel_surface(mesh: MeshGeometry, size: int) -> TexelSurface:
    """Rasterise ``mesh``'s triangles over its UV map into a ``size`` square texture. Where UV
    islands overlap, one triangle keeps the texel."""
    x, y = projection.uv_to_texel(mesh.uvs, size)
    triangle, weights = raster.rasterize(np.stack([x, y], axis=-1), size, size)
    texels = np.flatnonzero(triangle >= 0)
    tri = triangle.ravel()[texels]
    bary = weights.reshape(-1, 3)[texels]
    points = np.einsum("ni,nij->nj", bary, mesh.corners[tri])
    normals = np.einsum("ni,nij->nj", bary, mesh.normals[tri])
    normals /= np.sqrt(np.maximum(np.einsum("ij,ij->i", normals, normals), 1e-24))[:, None]
    return TexelSurface(size, texels, points.astype(np.float32), normals.astype(np.float32))


def project_picture(surface: TexelSurface, camera: projection.ViewCamera, passes: ViewPasses,
                    picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weight (N) and colour (N x 3) one view's ``picture`` (H x W x 3, top row first)
    gives each texel of ``surface`` (``core.projection.view_weights``: hidden texels get 0)."""
    edges = projection.depth_edges(passes.depth, camera.perspective)
    weight, x, y = projection.view_weights(camera, surface.points, surface.normals, passes.depth, edges)
    colour = np.zeros((len(weight), 3), dtype=np.float32)
    seen = weight > 0  # sampling is the costly part: only where the view counts
    colour[seen] = projection.bilinear(picture, x[seen], y[seen])
    return weight, colour
