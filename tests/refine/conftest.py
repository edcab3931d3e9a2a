"""Scenes the refine, inpaint and upscale tests in Blender share: a plane whose material shows a
picture, and helpers in ``refine_scenes`` (the quick style is in the top conftest)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The maps tests' scene builders (blender_maps), shared rather than copied.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "maps"))

from blender_maps import image_from_array, picture_material, stripes  # noqa: E402
from refine_scenes import SIZE  # noqa: E402


@pytest.fixture
def picture_scene(bpy_module, clean_scene):
    """A plane, active, whose material "Picture" shows a packed 8-bit 64 x 64 picture
    "Picture". Returns (object, material, image)."""
    image = image_from_array(bpy_module, stripes(SIZE, SIZE))
    obj, material = picture_material(bpy_module, image)
    return obj, material, image
