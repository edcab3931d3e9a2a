"""PBR maps of the built-in engine's procedural materials: made of their own nodes, no images.

A recipe already shades relief (Bump nodes on the Principled BSDF's Normal), roughness and,
for metals, metallic with procedural textures, at any resolution. When maps are asked for, the
material gets the rest the image network has: ambient occlusion multiplied into the colour
(Blender's Ambient Occlusion node) and, with displacement 'DISPLACEMENT' or 'BOTH', the recipe's
height moving the surface through a Displacement node. ``atelier.bake_material`` turns any of
them into image files.
"""

from __future__ import annotations

import bpy

from ..apply.bake import height_behind
from ..apply.pbr_material import DISPLACEMENT_SCALE, MIDLEVEL, NODE_NAMES, principled_surface
from ..core.pbr import MAP_ROLES

AO_NODE = "Atelier AO"


def add_maps(material: bpy.types.Material, roles, displacement: str = "BUMP",
             use_ao: bool = True) -> tuple[str, ...]:
    """Give ``material`` (a recipe's) the maps ``roles`` it can have; returns the maps it has
    now, in ``MAP_ROLES`` order: normal and height (the recipe's relief), roughness and metallic
    (when a texture drives them), ao (when asked for). Albedo is the recipe's colour itself."""
    tree = material.node_tree
    surface, bsdf = principled_surface(material)
    has = set()
    relief = height_behind(tree, bsdf.inputs["Normal"], made := [])
    if relief is not None:
        has.update({"normal", "height"})
        if "height" in roles and displacement != "BUMP":
            _displace(material, tree, surface.node, bsdf, relief, displacement)
        else:
            for node in made:  # the heights mixed for displacement are not needed
                tree.nodes.remove(node)
    has.update(role for role in ("roughness", "metallic") if bsdf.inputs[role.title()].is_linked)
    if "ao" in roles and use_ao:
        color = bsdf.inputs["Base Color"]
        occlusion = tree.nodes.new("ShaderNodeAmbientOcclusion")
        occlusion.name = occlusion.label = AO_NODE
        occlusion.location = (bsdf.location.x - 250, bsdf.location.y + 250)
        if color.is_linked:
            tree.links.new(color.links[0].from_socket, occlusion.inputs["Color"])
        else:
            occlusion.inputs["Color"].default_value = color.default_value
        tree.links.new(occlusion.outputs["Color"], color)
        has.add("ao")
    return tuple(role for role in MAP_ROLES if role in has and role in roles)


def _displace(material, tree, output, bsdf, relief, displacement: str) -> None:
    """The recipe's height moves the surface; its Bump nodes leave the Normal, since Blender
    shades the displacement itself (and adds bump from it for 'BOTH')."""
    moved = tree.nodes.new("ShaderNodeDisplacement")
    moved.name = moved.label = NODE_NAMES["displacement"]
    moved.location = (output.location.x, output.location.y - 250)
    moved.inputs["Midlevel"].default_value = MIDLEVEL
    moved.inputs["Scale"].default_value = DISPLACEMENT_SCALE
    tree.links.new(relief, moved.inputs["Height"])
    tree.links.new(moved.outputs["Displacement"], output.inputs["Displacement"])
    for link in list(bsdf.inputs["Normal"].links):
        tree.links.remove(link)
    material.displacement_method = displacement
