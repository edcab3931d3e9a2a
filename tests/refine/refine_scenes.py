"""What the refine, inpaint and upscale tests in Blender share: a picture's size, masks painted as
images, the seam measure, and what a refused call must leave as it was. (A module of its own:
``from conftest import`` would find whichever conftest.py pytest imported last.)"""

from __future__ import annotations

import numpy as np
from scene_state import scene_state

SIZE = 64  # the tiny model's native size: one tile, quick on the CPU


def edit_state(bpy) -> dict:
    """What a refine, inpaint or upscale call may change, as one comparable value."""
    return {
        **scene_state(bpy),
        "images": sorted(i.name for i in bpy.data.images),
        "shown": sorted((m.name, n.name, n.image.name) for m in bpy.data.materials if m.node_tree
                        for n in m.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage" and n.image),
        "history": [(h.name, h.kind, h.previous_image.name if h.previous_image else "")
                    for h in bpy.context.scene.atelier.history],
    }


def mask_image(bpy, values: np.ndarray, name: str = "Mask", alpha: float = 1.0):
    """A painted mask: grey ``values`` (H x W, top row first) as an Image datablock, as the
    Image Editor's Image > New and a brush leave it (``alpha``: how opaque the paint is)."""
    height, width = values.shape
    image = bpy.data.images.new(name, width, height, alpha=True)
    rgba = np.empty((height, width, 4), dtype=np.float32)
    rgba[..., :3] = values[..., None]
    rgba[..., 3] = alpha
    image.pixels.foreach_set(rgba[::-1].ravel())
    return image


def square_mask(size: int = SIZE, low: int = 16, high: int = 40) -> np.ndarray:
    """1 in a square (rows and columns low..high), 0 elsewhere."""
    mask = np.zeros((size, size), dtype=np.float32)
    mask[low:high, low:high] = 1.0
    return mask


def seam_jump(pixels: np.ndarray, axis: int, reach: int = 3) -> float:
    """The difference across the seam of ``axis`` (1: last column to first; 0: last row to
    first) over the mean difference between neighbours up to ``reach`` lines on either side of
    it: about 1 where the picture runs on across its edge, the same as everywhere near it."""
    lines = np.moveaxis(np.asarray(pixels, np.float64), axis, 0)
    near = np.concatenate([lines[-reach - 1:], lines[:reach + 1]])  # the seam in the middle
    steps = np.abs(np.diff(near, axis=0)).mean(axis=tuple(range(1, near.ndim)))
    return float(steps[reach] / np.delete(steps, reach).mean())
