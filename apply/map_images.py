"""Images as numpy arrays and back, for the maps made and exported inside Blender.

Arrays here are in picture order (row 0 is the top row), values 0..1: what ``core.pbr_classic``
reads and writes. Blender keeps pixels bottom row first, so every crossing flips the rows.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import bpy
import numpy as np

from ..core import limits
from ..core.pbr import MapError, check_image_size


def pixels(image: bpy.types.Image) -> np.ndarray:
    """``image``'s RGBA pixels as stored (H x W x 4, top row first)."""
    width, height = image.size
    flat = np.empty(width * height * 4, dtype=np.float32)
    image.pixels.foreach_get(flat)
    return flat.reshape(height, width, 4)[::-1]


def check_picture(image: bpy.types.Image) -> None:
    """Refuse, with ``MapError`` saying what to change, a picture maps cannot be made from: one
    Blender cannot read, one too small to hold a surface, one over the size limit."""
    width, height = image.size
    if width == 0 or height == 0:
        raise MapError(f"Blender cannot read the image {image.name!r} (no pixels); check its file")
    check_image_size(height, width)
    most = limits.max_size()
    if max(width, height) > most:
        raise MapError(f"the image {image.name!r} is {width}x{height} pixels; maps take at most "
                       f"{most} per side (ATELIER_MAX_SIZE); scale it down first")


def color_of(image: bpy.types.Image) -> np.ndarray:
    """The picture as display sRGB (H x W x 3, top row first), checked (``check_picture``).

    Blender holds 8-bit images as they are in the file (display values) but float images
    (16-bit PNG, EXR) in scene-linear light, so those are encoded back to display sRGB."""
    check_picture(image)
    return display_rgb(image)


def display_rgb(image: bpy.types.Image) -> np.ndarray:
    """A colour image's pixels as display sRGB (H x W x 3, top row first); see ``color_of``."""
    rgb = pixels(image)[..., :3]
    if image.is_float and not image.colorspace_settings.is_data:
        rgb = _linear_to_srgb(np.clip(rgb, 0.0, 1.0))
    return np.ascontiguousarray(rgb, dtype=np.float32)


def _linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def write_png(values: np.ndarray, path: Path, colorspace: str, sixteen_bit: bool = False) -> None:
    """Save ``values`` (H x W grey, H x W x 3 or H x W x 4 with alpha; 0..1, top row first)
    as a PNG.

    ``colorspace`` says what the numbers are: 'sRGB' values are display colours, written as
    they are; 'Non-Color' values are data, written untouched by any view transform. Grey
    values become a greyscale file; ``sixteen_bit`` keeps 65536 levels (height maps, deep
    pictures: pass 'Non-Color' so the display values are written untouched)."""
    values = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    height, width = values.shape[:2]
    grey = values.ndim == 2
    alpha = not grey and values.shape[2] == 4
    rgba = np.ones((height, width, 4), dtype=np.float32)
    rgba[..., :3] = values[..., None] if grey else values[..., :3]
    if alpha:
        rgba[..., 3] = values[..., 3]
        if sixteen_bit:  # Blender's float buffers hold premultiplied colour and divide on saving
            rgba[..., :3] *= rgba[..., 3:]
    image = bpy.data.images.new("Atelier map", width, height, alpha=alpha, float_buffer=sixteen_bit)
    try:
        image.colorspace_settings.name = colorspace
        image.pixels.foreach_set(rgba[::-1].ravel())
        if colorspace == "Non-Color":
            # Data passes through the render output untouched, and only it writes grey or 16-bit.
            scene = bpy.context.scene
            mode = "BW" if grey else "RGBA" if alpha else "RGB"
            with _png_output(scene, mode, "16" if sixteen_bit else "8"):
                image.save_render(str(path), scene=scene)
        else:
            image.filepath_raw = str(path)
            image.file_format = "PNG"
            image.save()
    except RuntimeError as exc:
        raise OSError(f"cannot write {path}: {exc}") from None
    finally:
        bpy.data.images.remove(image)


@contextlib.contextmanager
def _png_output(scene: bpy.types.Scene, color_mode: str, depth: str):
    """The scene's image output set to PNG of ``color_mode`` and ``depth`` for a moment."""
    settings = scene.render.image_settings
    saved = (settings.file_format, settings.color_mode, settings.color_depth)
    settings.file_format = "PNG"
    settings.color_mode = color_mode
    settings.color_depth = depth
    try:
        yield
    finally:
        settings.file_format = saved[0]
        settings.color_mode = saved[1]
        settings.color_depth = saved[2]
