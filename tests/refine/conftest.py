"""Scenes the refine, inpaint and upscale tests in Blender share: a plane whose material shows a
picture, and a quick style (helpers in ``refine_scenes``)."""

from __future__ import annotations

import json
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


@pytest.fixture
def quick_style(addon):
    """The name of a style in the artist's ``styles.json`` that only sets 2 denoising steps:
    inpaint and upscale take their steps from a style (the tiny model's own default is 30)."""
    path = Path(addon.preferences.styles_file())
    saved = path.read_bytes() if path.exists() else None
    path.write_text(json.dumps({"quick": {"prompt": "{prompt}", "defaults": {"steps": 2}}}))
    yield "quick"
    if saved is None:
        path.unlink()
    else:
        path.write_bytes(saved)
