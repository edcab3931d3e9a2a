"""The classic maps engine inside Blender: no backend, no weights, numpy filters on the pixels.

``core.pbr_classic`` does the work (the backend runs the same code); this reads the picture
from its Image datablock and writes each map as a PNG the way the backend does (normal and
albedo 8-bit colour, height 16-bit grey, the rest 8-bit grey), so both engines' maps reach
the material by the same road (``material_maps.apply_maps``).
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ..core import provenance
from ..core.pbr import COLOR_SPACES, check_map_names
from .map_images import color_of, write_png

ENGINE = "classic"


def derive_files(image: bpy.types.Image, roles, seamless: str, folder: Path) -> tuple[dict[str, Path], dict]:
    """Make the maps ``roles`` of ``image`` as PNG files in ``folder``; returns role -> file and
    the provenance record. Raises ``core.pbr.MapError`` for an image that cannot be used."""
    from ..core import pbr_classic  # numpy work, loaded when maps are made

    roles = check_map_names(roles)
    maps = pbr_classic.derive(color_of(image), roles, seamless=seamless)
    files = {}
    for role in roles:
        path = folder / f"{role}.png"
        write_png(maps[role], path, COLOR_SPACES[role], sixteen_bit=role == "height")
        files[role] = path
    record = provenance.build(
        "maps", ENGINE, ENGINE, {"maps": list(roles), "seamless": seamless, "image": image.name},
        device="cpu", versions={"blender": bpy.app.version_string, "numpy": np.__version__})
    return files, record
