"""Bake a material to image maps with Cycles on the CPU, for export to other programs.

Procedural node trees exist only in Blender; game engines and glTF want images. The bake
evaluates the material over the object's UV map and writes one PNG per map. The scene is left
as it was: render settings, selection and the material's nodes are restored, and the images
are not kept in the .blend (the files are what the bake is for).

Cycles has no height or metallic pass: those are baked as emission of what feeds the material
(the Principled BSDF's Metallic; the Height of the Bump nodes behind its Normal, or of the
Displacement node on the output), height as a 16-bit grey file with 0.5 at the mean surface,
like the height maps Atelier makes.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import NamedTuple

import bpy
import numpy as np

from .map_images import pixels, write_png
from .pbr_material import MIDLEVEL, principled_surface
from .texture import linked_problem, with_meshes


class BakeMap(NamedTuple):
    """How one map is baked and saved, and how the bake operator's menu names it."""

    bake_type: str  # Cycles bake type
    pass_filter: frozenset
    colorspace: str  # of the saved image
    label: str
    description: str


# role (one of core.protocol.FILE_ROLES) -> its bake, in the order maps are baked. The base
# colour is baked as emission from the Principled BSDF's Base Color input (see
# _as_emission): a diffuse bake would come out black for metals.
MAPS = {
    "base_color": BakeMap("EMIT", frozenset(), "sRGB", "Base Color", "The surface colour (sRGB)"),
    "roughness": BakeMap("ROUGHNESS", frozenset(), "Non-Color", "Roughness",
                         "How rough the surface is (non-colour data)"),
    "normal": BakeMap("NORMAL", frozenset(), "Non-Color", "Normal",
                      "Tangent-space normal map (non-colour data)"),
    "height": BakeMap("EMIT", frozenset(), "Non-Color", "Height",
                      "Relief behind the bump or displacement, 16-bit, 0.5 at the mean surface"),
    "metallic": BakeMap("EMIT", frozenset(), "Non-Color", "Metallic",
                        "Where the surface is metal (non-colour data)"),
    "ao": BakeMap("AO", frozenset(), "Non-Color", "AO", "Ambient occlusion of the mesh "
                                                        "(non-colour data)"),
}
# Maps baked as the emission of one of the material's inputs, and those needing its Principled BSDF.
_EMITTED = ("base_color", "height", "metallic")
_NEED_PRINCIPLED = ("base_color", "metallic")
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
    stem = file_stem(material.name)
    paths: dict[str, str] = {}
    try:
        scene.render.engine = "CYCLES"
        scene.cycles.device = "CPU"
        scene.cycles.samples = samples
        scene.render.bake.margin = max(1, size // 64)
        for role in maps:
            spec = MAPS[role]
            # Height keeps its fine steps (and values beyond 0..1) until it is centred and saved.
            image = bpy.data.images.new(f"{stem}_{role}", size, size, alpha=False,
                                        float_buffer=role == "height")
            try:
                image.colorspace_settings.name = spec.colorspace
                node.image = image
                shading = (_as_emission(material, role) if role in _EMITTED
                           else contextlib.nullcontext())
                with shading, context.temp_override(active_object=obj, object=obj, selected_objects=[obj],
                                                    selected_editable_objects=[obj]):
                    bpy.ops.object.bake(type=spec.bake_type, pass_filter=set(spec.pass_filter),
                                        use_clear=True, target="IMAGE_TEXTURES")
                path = Path(directory) / f"{stem}_{role}.png"
                if role == "height":
                    write_png(centred_height(pixels(image)[..., 0]), path, spec.colorspace,
                              sixteen_bit=True)
                else:
                    image.filepath_raw = str(path)
                    image.file_format = "PNG"
                    image.save()
                paths[role] = str(path)
            finally:
                node.image = None
                bpy.data.images.remove(image)
    finally:
        material.node_tree.nodes.remove(node)
        material.node_tree.nodes.active = previous_active
        _restore_settings(scene, saved)
    return paths


def file_stem(name: str) -> str:
    """A material name as the start of a file name: runs of anything but letters, digits, '.',
    '-' and '_' become one '_'."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "material"


def centred_height(height: np.ndarray) -> np.ndarray:
    """Baked relief with its mean moved to 0.5, scaled down only as far as 0..1 needs."""
    centred = height - float(height.mean())
    reach = float(np.abs(centred).max())
    return 0.5 + centred * (0.5 / reach if reach > 0.5 else 1.0)


@contextlib.contextmanager
def _as_emission(material, role: str):
    """For the bake, feed what makes map ``role`` to the output as pure emission."""
    tree = material.node_tree
    output = tree.get_output_node("CYCLES")
    surface = output.inputs["Surface"]
    original = surface.links[0].from_socket if surface.is_linked else None
    made = [tree.nodes.new("ShaderNodeEmission")]
    color = made[0].inputs["Color"]
    if role == "height":
        source = _height_source(tree, output, made)
        value = MIDLEVEL
    else:
        socket = principled_surface(material)[1].inputs["Base Color" if role == "base_color" else "Metallic"]
        source = socket.links[0].from_socket if socket.is_linked else None
        value = socket.default_value
    if source is not None:
        tree.links.new(source, color)
    else:
        color.default_value = tuple(value) if role == "base_color" else (value, value, value, 1.0)
    tree.links.new(made[0].outputs["Emission"], surface)
    try:
        yield
    finally:
        if original is not None:
            tree.links.new(original, surface)
        for node in made:
            tree.nodes.remove(node)


def _height_source(tree, output, made: list):
    """The socket giving the material's height: the Displacement node's Height on the output,
    else the Bump nodes' behind the Principled BSDF's Normal; None for a flat material.
    Nodes it adds to mix heights are listed in ``made``."""
    displacement = output.inputs["Displacement"]
    if displacement.is_linked:
        node = displacement.links[0].from_node
        if node.bl_idname == "ShaderNodeDisplacement" and node.inputs["Height"].is_linked:
            return node.inputs["Height"].links[0].from_socket
    surface = output.inputs["Surface"]
    shader = surface.links[0].from_node if surface.is_linked else None
    normal = shader.inputs.get("Normal") if shader is not None else None
    return height_behind(tree, normal, made) if normal is not None else None


def height_behind(tree, socket, made: list, depth: int = 0):
    """The height behind a normal ``socket``: a Bump node's Height, or Mix nodes mixing normals
    (the box projection of built-in recipes) mirrored as Mix nodes mixing their heights, which
    are added to the tree and listed in ``made``; None when nothing behind it has a height."""
    if not socket.is_linked or depth > 8:
        return None
    node = socket.links[0].from_node
    if node.bl_idname == "ShaderNodeBump":
        height = node.inputs["Height"]
        return height.links[0].from_socket if height.is_linked else None
    if node.bl_idname != "ShaderNodeMix":
        return None
    sides = [height_behind(tree, _shown(node.inputs, name), made, depth + 1) for name in ("A", "B")]
    if sides == [None, None]:
        return None
    mix = tree.nodes.new("ShaderNodeMix")  # data type FLOAT: its first A, B and Result
    made.append(mix)
    factor = _shown(node.inputs, "Factor")
    if factor.is_linked:
        tree.links.new(factor.links[0].from_socket, mix.inputs["Factor"])
    else:
        mix.inputs["Factor"].default_value = factor.default_value
    for name, side in zip(("A", "B"), sides, strict=True):
        if side is not None:
            tree.links.new(side, mix.inputs[name])
        else:
            mix.inputs[name].default_value = MIDLEVEL
    return mix.outputs["Result"]


def _shown(sockets, name: str):
    """The socket called ``name`` that the node's mode shows (a Mix node has one per data type)."""
    return next(socket for socket in sockets if socket.name == name and socket.enabled)


def _check(obj, directory: str, size: int, samples: int, maps) -> None:
    if obj is None or obj.type != "MESH":
        raise ValueError("select a mesh object to bake its material")
    material = obj.active_material
    if material is None or material.node_tree is None:
        raise ValueError(f"'{obj.name}' has no node material in its active slot; give it one first")
    # Cycles bakes only an editable object and mesh, into an image node added to the material.
    linked = linked_problem([*with_meshes([obj]), material])
    if linked:
        raise ValueError(linked)
    needing = [role for role in maps if role in _NEED_PRINCIPLED]
    if needing and principled_surface(material) is None:
        raise ValueError(f"material '{material.name}' has no Principled BSDF feeding its output, so "
                         f"its {' and '.join(needing)} cannot be baked; bake only its roughness, "
                         "normal, height and AO")
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
