"""A palette as a GIMP palette file (.gpl): display sRGB, names and roles as comments."""

import bpy

from . import palette as palette_swatches


def gpl_text(scene, palette: bpy.types.Palette) -> str:
    """The palette as a GIMP palette file (display sRGB, names and roles as comments)."""
    swatches = palette_swatches.swatches_of(scene, palette)
    info = scene.atelier.palettes.get(palette.name)
    title = (info.title if info and info.title else palette.name).replace("\n", " ")
    lines = ["GIMP Palette", f"Name: {title}", f"Columns: {min(len(swatches), 8)}", "#"]
    for s in swatches:
        r, g, b = (int(s.hex[i:i + 2], 16) for i in (1, 3, 5))
        label = " ".join(p for p in (s.label, f"({s.role})" if s.role else "") if p) or s.hex
        lines.append(f"{r:3d} {g:3d} {b:3d}\t{label}")
    return "\n".join(lines) + "\n"
