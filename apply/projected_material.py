"""A projection's baked textures on their meshes, in one step: per mesh an image (packed or
saved like a generated texture's), a material that reads it through the mesh's UV map (a UV Map
node), provenance on both, and a history entry.

Runs on the main thread inside one operator call, so it is one undo step; on any failure
everything made so far is removed again (``apply/texture.roll_back``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ..client.session import ApplyError
from .map_images import write_png
from .names import datablock_name
from .nodes import find_node
from .texture import (
    Applied,
    TextureParameters,
    add_history,
    assign_material,
    build_material,
    load_image,
    roll_back,
    store_provenance,
)

HISTORY_KIND = "PROJECT"


@dataclass
class Projected:
    """What one application made: per object name its material and image."""

    materials: dict = field(default_factory=dict)  # object name -> bpy.types.Material
    images: dict = field(default_factory=dict)  # object name -> bpy.types.Image


def texture_name(result_name: str, object_name: str, count: int) -> str:
    """The image and material name of one mesh's texture: the result's name, with the object's
    when several meshes share the views."""
    return datablock_name(result_name if count == 1 else f"{result_name} {object_name}")


def write_textures(textures: dict[str, tuple[np.ndarray, float]], folder: Path) -> dict[str, Path]:
    """Each object's baked texture (RGBA, sRGB values, top row first) as an RGB PNG in ``folder``:
    object name -> file. Every texel is filled, so the alpha channel carries nothing."""
    files = {}
    for number, (name, (pixels, _unseen)) in enumerate(textures.items()):
        path = folder / f"texture-{number}.png"
        write_png(pixels[..., :3], path, "sRGB")
        files[name] = path
    return files


def apply_projection(files: dict[str, Path], uv_maps: dict[str, str], result_name: str,
                     records: dict[str, dict], parameters: TextureParameters, storage: str,
                     then: Callable[[Projected], None] | None = None) -> Projected:
    """Put each object's texture ``files[name]`` on it through UV map ``uv_maps[name]``, with
    provenance ``records[name]``; ``then(projected)`` finishes the materials in the same step
    (the PBR maps) before the history entries are written, and what it raises undoes it all.
    Raises ``ApplyError`` (everything made removed) when an object is gone."""
    created: list = []
    undo: list = []
    projected = Projected()
    try:
        for name, path in files.items():
            obj = bpy.data.objects.get(name)
            if obj is None:
                raise ApplyError(f"the object {name!r} no longer exists; nothing was changed")
            label = texture_name(result_name, name, len(files))
            image = load_image(path, label, storage, created)
            store_provenance(image, records[name])
            material = build_material(label, image, box_projection=False)
            created.append(material)
            read_through_uv_map(material, uv_maps[name])
            store_provenance(material, records[name])
            assign_to_every_slot(obj, material, undo)
            projected.materials[name], projected.images[name] = material, image
        if then is not None:
            then(projected)
        for name, material in projected.materials.items():
            normal_maps_on(material, uv_maps[name])
        for name, material in projected.materials.items():
            applied = Applied(materials=[material], image=projected.images[name],
                              objects=[bpy.data.objects[name]])
            add_history(bpy.context.scene, parameters, applied, records[name]).kind = HISTORY_KIND
    except BaseException:
        roll_back(undo, created)
        raise
    return projected


def assign_to_every_slot(obj: bpy.types.Object, material: bpy.types.Material, undo: list) -> None:
    """Put ``material`` in every material slot of ``obj`` (a new one when it has none): the
    texture covers the whole mesh, so faces of other slots would show the old materials."""
    if len(obj.material_slots) == 0:
        assign_material(obj, material, undo)
        return
    for slot in obj.material_slots:
        previous = slot.material
        slot.material = material
        undo.append(lambda slot=slot, previous=previous: setattr(slot, "material", previous))


def normal_maps_on(material: bpy.types.Material, uv_map: str) -> None:
    """Point every Normal Map node at UV map ``uv_map``: tangents come from a UV map, and the
    normal map was painted in that one, not in whichever the mesh has active."""
    for node in material.node_tree.nodes:
        if node.bl_idname == "ShaderNodeNormalMap":
            node.uv_map = uv_map


def read_through_uv_map(material: bpy.types.Material, uv_map: str) -> None:
    """Feed the material's Image Texture the coordinates of UV map ``uv_map`` (by name, so the
    mesh's other UV maps and which one is active do not matter)."""
    tree = material.node_tree
    texture = find_node(tree, "TEX_IMAGE")
    node = tree.nodes.new("ShaderNodeUVMap")
    node.uv_map = uv_map
    node.location = (texture.location.x - 250, texture.location.y)
    texture.extension = "EXTEND"  # the bake fills past the islands; nothing wraps round
    tree.links.new(node.outputs["UV"], texture.inputs["Vector"])
