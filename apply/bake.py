"""Bake a material to image maps with Cycles on the CPU, for export to other programs.

Procedural node trees exist only in Blender; game engines and glTF want images. The bake
evaluates the material over the object's UV map and writes one PNG per map. The scene is left
as it was: render settings, selection and the material's nodes are restored, and the images
are not kept in the .blend (the files are what the bake is for).
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import NamedTuple

import bpy


class BakeMap(NamedTuple):
    """How one map is baked and saved, and how the bake operator's menu names it."""

    bake_type: str  # Cycles bake type
    pass_filter: frozenset
    colorspace: str  # of the saved image
    label: str
    description: str


# role (one of core.protocol.FILE_ROLES) -> its bake, in the order maps are baked. The base
# colour is baked as emission from the Principled BSDF's Base Color input (see
# _base_color_as_emission): a diffuse bake would come out black for metals.
MAPS = {
    "base_color": BakeMap("EMIT", frozenset(), "sRGB", "Base Color", "The surface colour (sRGB)"),
    "roughness": BakeMap("ROUGHNESS", frozenset(), "Non-Color", "Roughness",
                         "How rough the surface is (non-colour data)"),
    "normal": BakeMap("NORMAL", frozenset(), "Non-Color", "Normal",
                      "Tangent-space normal map (non-colour data)"),
}
MIN_SIZE, MAX_SIZE = 8, 8192


def bake_maps(context: bpy.types.Context, obj: bpy.types.Object, directory: str, size: int = 1024,
              samples: int = 4, maps: tuple[str, ...] = tuple(MAPS)) -> dict[str, str]:
    """Bake ``obj``'s active material to ``size``-pixel square PNGs in ``directory``.

    Returns role -> file path (roles from ``MAPS``). Raises ValueError, with what to change,
    before anything is touched when the object, its material, UV map or the arguments
    cannot be baked."""
    _check(obj, directory, size, samples, maps)
    material = obj.active_material
    os.makedirs(directory, exist_ok=True)
    scene = context.scene
    saved = _save_settings(scene)
    node = material.node_tree.nodes.new("ShaderNodeTexImage")
    previous_active = material.node_tree.nodes.active
    material.node_tree.nodes.active = node  # Cycles bakes into the active image node
    stem = re.sub(r"[^\w.-]+", "_", material.name).strip("_") or "material"
    paths: dict[str, str] = {}
    try:
        scene.render.engine = "CYCLES"
        scene.cycles.device = "CPU"
        scene.cycles.samples = samples
        scene.render.bake.margin = max(1, size // 64)
        for role in maps:
            spec = MAPS[role]
            image = bpy.data.images.new(f"{stem}_{role}", size, size, alpha=False)
            try:
                image.colorspace_settings.name = spec.colorspace
                node.image = image
                shading = (_base_color_as_emission(material) if role == "base_color"
                           else contextlib.nullcontext())
                with shading, context.temp_override(active_object=obj, object=obj, selected_objects=[obj],
                                                    selected_editable_objects=[obj]):
                    bpy.ops.object.bake(type=spec.bake_type, pass_filter=set(spec.pass_filter),
                                        use_clear=True, target="IMAGE_TEXTURES")
                path = str(Path(directory) / f"{stem}_{role}.png")
                image.filepath_raw = path
                image.file_format = "PNG"
                image.save()
                paths[role] = path
            finally:
                node.image = None
                bpy.data.images.remove(image)
    finally:
        material.node_tree.nodes.remove(node)
        material.node_tree.nodes.active = previous_active
        _restore_settings(scene, saved)
    return paths


def _principled_surface(material):
    """(the output's Surface socket, the Principled BSDF feeding it), or None for other trees."""
    output = material.node_tree.get_output_node("CYCLES")
    surface = output.inputs["Surface"] if output else None
    if surface is None or not surface.is_linked:
        return None
    shader = surface.links[0].from_node
    return (surface, shader) if shader.bl_idname == "ShaderNodeBsdfPrincipled" else None


@contextlib.contextmanager
def _base_color_as_emission(material):
    """For the bake, feed the Principled BSDF's Base Color to the output as pure emission."""
    tree = material.node_tree
    surface, shader = _principled_surface(material)
    original = surface.links[0].from_socket
    emission = tree.nodes.new("ShaderNodeEmission")
    base = shader.inputs["Base Color"]
    if base.is_linked:
        tree.links.new(base.links[0].from_socket, emission.inputs["Color"])
    else:
        emission.inputs["Color"].default_value = base.default_value
    tree.links.new(emission.outputs["Emission"], surface)
    try:
        yield
    finally:
        tree.links.new(original, surface)
        tree.nodes.remove(emission)


def _check(obj, directory: str, size: int, samples: int, maps) -> None:
    if obj is None or obj.type != "MESH":
        raise ValueError("select a mesh object to bake its material")
    material = obj.active_material
    if material is None or material.node_tree is None:
        raise ValueError(f"'{obj.name}' has no node material in its active slot; give it one first")
    if "base_color" in maps and _principled_surface(material) is None:
        raise ValueError(f"material '{material.name}' has no Principled BSDF feeding its output; "
                         "bake only its roughness and normal")
    if not obj.data.uv_layers:
        raise ValueError(f"'{obj.name}' has no UV map; unwrap it first (UV > Smart UV Project)")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    unknown = [role for role in maps if role not in MAPS]
    if unknown or not maps:
        raise ValueError(f"maps must be some of {', '.join(MAPS)}, got {', '.join(maps) or 'none'}")
    if not directory:
        raise ValueError("choose a folder for the baked images")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"'{directory}' is a file; choose a folder for the baked images")


def _save_settings(scene) -> dict:
    return {"engine": scene.render.engine, "device": scene.cycles.device,
            "samples": scene.cycles.samples, "margin": scene.render.bake.margin}


def _restore_settings(scene, saved: dict) -> None:
    scene.render.engine = saved["engine"]
    scene.cycles.device = saved["device"]
    scene.cycles.samples = saved["samples"]
    scene.render.bake.margin = saved["margin"]
