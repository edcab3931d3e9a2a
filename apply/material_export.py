"""A material's maps as PNG files for game engines and other programs.

One file per map, ``<material>_<role>.png`` (the picture as ``base_color``), written from the
images the material shows, plus a glTF-style ``<material>_orm.png`` packing ambient occlusion
(red), roughness (green) and metallic (blue) in one image. Normal maps are OpenGL style
(green is up) as Blender uses them; DirectX style (Unreal and others) flips green.
Colour files stay 8-bit sRGB, data files 8-bit grey, and height 16-bit grey.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ..client.session import ApplyError
from ..core.pbr import COLOR_SPACES
from . import pbr_material
from .bake import file_stem
from .map_images import display_rgb, pixels, write_png

NORMAL_CONVENTIONS = ("OPENGL", "DIRECTX")
ORM_ROLES = ("ao", "roughness", "metallic")  # red, green, blue


def planned_files(material: bpy.types.Material, directory: Path, orm: bool) -> dict[str, Path]:
    """role -> the file ``export`` writes for it (``orm`` for the packed image)."""
    images = pbr_material.map_images(material)
    if not images:
        raise ApplyError(f"material {material.name!r} has no maps to export; derive maps first "
                         "(Derive Maps), or bake a procedural material (Bake Material to Images)")
    stem = file_stem(material.name)
    files = {role: directory / f"{stem}_{role}.png" for role in images}
    if orm and any(role in images for role in ORM_ROLES):
        files["orm"] = directory / f"{stem}_orm.png"
    return files


def export(material: bpy.types.Material, directory: Path, orm: bool = True,
           normal_convention: str = "OPENGL", overwrite: bool = False) -> dict[str, Path]:
    """Write ``material``'s maps into ``directory``; returns role -> file.

    Refuses, before writing anything, a material without maps, an unknown convention, a folder
    that is a file, and files that exist (unless ``overwrite``). On a failure part-way, the
    files written so far are removed."""
    if normal_convention not in NORMAL_CONVENTIONS:
        raise ApplyError(f"unknown normal convention {normal_convention!r}; use OPENGL or DIRECTX")
    if directory.exists() and not directory.is_dir():
        raise ApplyError(f"{directory} is a file; choose a folder for the maps")
    files = planned_files(material, directory, orm)
    existing = [path.name for path in files.values() if path.exists()]
    if existing and not overwrite:
        raise ApplyError(f"{', '.join(existing)} already exist(s) in {directory}; choose another "
                         "folder or allow overwriting")
    images = pbr_material.map_images(material)
    written: list[Path] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for role, image in images.items():
            _write_map(image, role, files[role], normal_convention)
            written.append(files[role])
        if "orm" in files:
            write_png(orm_values(material, images), files["orm"], "Non-Color")
            written.append(files["orm"])
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise ApplyError(f"cannot write the maps in {directory}: {exc}") from None
    return files


def _write_map(image: bpy.types.Image, role: str, path: Path, normal_convention: str) -> None:
    if role in ("base_color", "albedo"):
        write_png(display_rgb(image), path, "sRGB")
        return
    values = pixels(image)[..., :3]
    if role == "normal":
        if normal_convention == "DIRECTX":
            values = values.copy()
            values[..., 1] = 1.0 - values[..., 1]  # DirectX's +Y points down the picture
        write_png(values, path, COLOR_SPACES[role])
    else:
        write_png(values[..., 0], path, COLOR_SPACES[role], sixteen_bit=role == "height")


def orm_values(material: bpy.types.Material, images: dict) -> np.ndarray:
    """The ORM image (H x W x 3): each channel its map, or what the material uses without one
    (no occlusion; the Principled BSDF's own roughness and metallic values)."""
    sizes = {tuple(images[role].size) for role in ORM_ROLES if role in images}
    if len(sizes) > 1:
        raise ApplyError(f"material {material.name!r}'s AO, roughness and metallic maps differ in "
                         "size; make them again together (Derive Maps) to pack them")
    width, height = sizes.pop()
    found = pbr_material.principled_surface(material)
    constants = {"ao": 1.0, "roughness": 0.5, "metallic": 0.0}  # Blender's own defaults
    if found is not None:
        constants["roughness"] = found[1].inputs["Roughness"].default_value
        constants["metallic"] = found[1].inputs["Metallic"].default_value
    channels = [pixels(images[role])[..., 0] if role in images
                else np.full((height, width), constants[role], dtype=np.float32)
                for role in ORM_ROLES]
    return np.stack(channels, axis=-1)
