"""The PBR node network: map images on one Principled BSDF, sharing the picture's mapping.

Built on a material whose Principled BSDF shows a picture on Base Color (the base colour)::

    Texture Coordinate -> Mapping -> every Image Texture (the picture and each map)
    normal map -> Normal Map (tangent space) -> [Bump] -> Normal
    height map -> Bump (Height)                  displacement 'BUMP'
               -> Displacement -> Material Output  'DISPLACEMENT' / 'BOTH'
    roughness map -> Map Range (the roughness range) -> Roughness
    metallic map -> Metallic
    ao map -> Multiply with the picture -> Base Color   (use_ao)
    albedo map -> in place of the picture

Every node the network adds has a fixed name (``NODE_NAMES``, ``map_node_name``), so the
Texture panel finds the strengths, a second run replaces the maps instead of stacking them,
and export finds the images. Normal, height, roughness, metallic and AO images are read as
Non-Color, albedo as sRGB (``core.pbr.COLOR_SPACES``).
"""

from __future__ import annotations

import bpy

from ..client.session import ApplyError
from ..core.pbr import MAP_ROLES
from .nodes import node_tree

BASE = "Atelier Base Color"
NODE_NAMES = {
    "coordinates": "Atelier Coordinates", "mapping": "Atelier Mapping",
    "normal_map": "Atelier Normal Map", "bump": "Atelier Bump",
    "displacement": "Atelier Displacement", "roughness_range": "Atelier Roughness Range",
    "ao_multiply": "Atelier AO Multiply",
}
# Starting strengths, in metres of object space: a height map's full range is 2 cm of bump and
# 5 cm of displacement; the Texture panel shows them for tuning.
BUMP_DISTANCE = 0.02
DISPLACEMENT_SCALE = 0.05
MIDLEVEL = 0.5  # the height of the mean surface (core.pbr: height is 0.5 there)
_COLUMN = 300  # node spacing in the editor
_ROW = 280
_SEARCH_DEPTH = 8  # links followed upstream from Base Color to find the picture


def map_node_name(role: str) -> str:
    """The Image Texture node that holds map ``role``."""
    return f"Atelier {role} map"


def principled_surface(material: bpy.types.Material):
    """(the output's Surface socket, the Principled BSDF feeding it), or None for other trees."""
    if material.node_tree is None:
        return None
    output = material.node_tree.get_output_node("ALL") or material.node_tree.get_output_node("CYCLES")
    surface = output.inputs["Surface"] if output else None
    if surface is None or not surface.is_linked:
        return None
    shader = surface.links[0].from_node
    return (surface, shader) if shader.bl_idname == "ShaderNodeBsdfPrincipled" else None


def base_texture(material: bpy.types.Material) -> bpy.types.Node:
    """The Image Texture whose picture feeds the Principled BSDF's Base Color; ``ApplyError``
    saying what to connect when there is none."""
    found = principled_surface(material)
    if found is None:
        raise ApplyError(f"material {material.name!r} has no Principled BSDF feeding its output; "
                         "maps go on a Principled BSDF")
    named = material.node_tree.nodes.get(BASE)
    if named is not None and named.bl_idname == "ShaderNodeTexImage" and named.image is not None:
        return named
    texture = _upstream_image(found[1].inputs["Base Color"])
    if texture is None:
        raise ApplyError(f"material {material.name!r} has no image on its Base Color; connect an "
                         "Image Texture to the Principled BSDF's Base Color (or generate a texture)")
    return texture


def _upstream_image(socket) -> bpy.types.Node | None:
    """The nearest Image Texture with an image upstream of ``socket`` (breadth first)."""
    frontier, seen = [socket], set()
    for _ in range(_SEARCH_DEPTH):
        nodes = [link.from_node for s in frontier for link in s.links if link.is_valid]
        for node in nodes:
            if node.bl_idname == "ShaderNodeTexImage" and node.image is not None:
                return node
        frontier = [s for node in nodes if node.name not in seen for s in node.inputs if s.is_linked]
        seen.update(node.name for node in nodes)
    return None


def map_images(material: bpy.types.Material) -> dict[str, bpy.types.Image]:
    """role -> image of every map on ``material``, ``base_color`` (the picture) first."""
    if material.node_tree is None:
        return {}
    nodes = material.node_tree.nodes
    images = {}
    try:
        images["base_color"] = base_texture(material).image
    except ApplyError:
        pass  # maps without a picture (its node was deleted) still export
    for role in MAP_ROLES:
        node = nodes.get(map_node_name(role))
        if node is not None and node.image is not None:
            images[role] = node.image
    return images


# The strengths the Texture panel shows: (node key, input, label).
STRENGTHS = (
    ("normal_map", "Strength", "Normal Strength"),
    ("bump", "Distance", "Bump Distance"),
    ("displacement", "Scale", "Displacement Scale"),
    ("roughness_range", "To Min", "Roughness Min"),
    ("roughness_range", "To Max", "Roughness Max"),
    ("ao_multiply", "Factor", "AO Strength"),
)


def strength_inputs(material: bpy.types.Material) -> list[tuple[str, bpy.types.NodeSocket]]:
    """(label, node input) of every strength ``material``'s maps have, in ``STRENGTHS`` order."""
    nodes = material.node_tree.nodes if material.node_tree else {}
    found = []
    for key, socket_name, label in STRENGTHS:
        node = nodes.get(NODE_NAMES[key])
        if node is not None:
            found.append((label, node.inputs[socket_name]))
    return found


# ---------------------------------------------------------------------- building


def build_network(material: bpy.types.Material, images: dict[str, bpy.types.Image],
                  displacement: str = "BUMP", use_ao: bool = True, use_uv: bool = False) -> None:
    """Put the map ``images`` (role -> Image) on ``material``'s Principled BSDF, replacing any
    maps an earlier run put there. ``use_uv``: a box-projected picture switches to the UV map
    (normal and height maps need UV tangents); otherwise the maps share its projection."""
    tree = node_tree(material)
    surface, bsdf = principled_surface(material)
    base = base_texture(material)
    remove_network(material)
    base.name = BASE
    vector = _shared_vector(tree, base, use_uv)
    textures = {}
    for row, (role, image) in enumerate(images.items(), start=1):
        node = tree.nodes.new("ShaderNodeTexImage")
        node.name = node.label = map_node_name(role)
        node.image = image
        node.projection, node.projection_blend = base.projection, base.projection_blend
        node.interpolation, node.extension = base.interpolation, base.extension
        node.location = (base.location.x, base.location.y - row * _ROW)
        tree.links.new(vector, node.inputs["Vector"])
        textures[role] = node
    _wire(material, tree, bsdf, surface.node, base, textures, displacement, use_ao)


def _shared_vector(tree, base, use_uv: bool):
    """The socket every texture reads its coordinates from: the Mapping feeding the picture,
    put in front of it (on the picture's coordinates, or the UV map) when there is none."""
    vector = base.inputs["Vector"]
    source = vector.links[0].from_socket if vector.is_linked else None
    if source is not None and source.node.bl_idname == "ShaderNodeMapping":
        mapping = source.node  # the artist's or an earlier run's: every texture shares it
    else:
        mapping = _new(tree, "ShaderNodeMapping", "mapping", base, -1, 0)
        tree.links.new(mapping.outputs["Vector"], vector)
        if source is not None:
            tree.links.new(source, mapping.inputs["Vector"])
    if use_uv and base.projection == "BOX":
        base.projection = "FLAT"  # the box's object coordinates give way to the UV map
        feed = mapping.inputs["Vector"]
        coordinates = feed.links[0].from_node if feed.is_linked else None
        if coordinates is None or coordinates.bl_idname != "ShaderNodeTexCoord":
            coordinates = _coordinates(tree, base)
        tree.links.new(coordinates.outputs["UV"], feed)
    elif not mapping.inputs["Vector"].is_linked and source is None:
        tree.links.new(_coordinates(tree, base).outputs["UV"], mapping.inputs["Vector"])
    return mapping.outputs["Vector"]


def _coordinates(tree, base) -> bpy.types.Node:
    return tree.nodes.get(NODE_NAMES["coordinates"]) or _new(tree, "ShaderNodeTexCoord", "coordinates",
                                                             base, -2, 0)


def _wire(material, tree, bsdf, output, base, textures: dict, displacement: str, use_ao: bool) -> None:
    links = tree.links
    if "albedo" in textures:  # the de-lit colour takes the picture's place wherever it went
        for link in list(base.outputs["Color"].links):
            links.new(textures["albedo"].outputs["Color"], link.to_socket)
    if "ao" in textures and use_ao:
        color = bsdf.inputs["Base Color"]
        multiply = _new(tree, "ShaderNodeMix", "ao_multiply", bsdf, -1, 1)
        multiply.data_type, multiply.blend_type = "RGBA", "MULTIPLY"
        multiply.inputs["Factor"].default_value = 1.0
        if color.is_linked:
            links.new(color.links[0].from_socket, _socket(multiply.inputs, "A_Color"))
        links.new(textures["ao"].outputs["Color"], _socket(multiply.inputs, "B_Color"))
        links.new(_socket(multiply.outputs, "Result_Color"), color)
    if "roughness" in textures:
        ranged = _new(tree, "ShaderNodeMapRange", "roughness_range", bsdf, -1, -1)
        links.new(textures["roughness"].outputs["Color"], ranged.inputs["Value"])
        links.new(ranged.outputs["Result"], bsdf.inputs["Roughness"])
    if "metallic" in textures:
        links.new(textures["metallic"].outputs["Color"], bsdf.inputs["Metallic"])
    normal = None
    if "normal" in textures:
        normal_map = _new(tree, "ShaderNodeNormalMap", "normal_map", bsdf, -1, -2)
        normal_map.space = "TANGENT"
        links.new(textures["normal"].outputs["Color"], normal_map.inputs["Color"])
        normal = normal_map.outputs["Normal"]
    if "height" in textures:
        height = textures["height"].outputs["Color"]
        if displacement == "BUMP":
            bump = _new(tree, "ShaderNodeBump", "bump", bsdf, -1, -3)
            bump.inputs["Distance"].default_value = BUMP_DISTANCE
            links.new(height, bump.inputs["Height"])
            if normal is not None:
                links.new(normal, bump.inputs["Normal"])
            normal = bump.outputs["Normal"]
        else:  # Blender derives the bump of 'BOTH' from the displacement itself
            moved = _new(tree, "ShaderNodeDisplacement", "displacement", output, 0, -1)
            moved.inputs["Midlevel"].default_value = MIDLEVEL
            moved.inputs["Scale"].default_value = DISPLACEMENT_SCALE
            links.new(height, moved.inputs["Height"])
            links.new(moved.outputs["Displacement"], output.inputs["Displacement"])
        material.displacement_method = displacement
    if normal is not None:
        links.new(normal, bsdf.inputs["Normal"])


def _new(tree, node_type: str, key: str, beside, column: int, row: int) -> bpy.types.Node:
    node = tree.nodes.new(node_type)
    node.name = node.label = NODE_NAMES[key]
    node.location = (beside.location.x + column * _COLUMN, beside.location.y + row * _ROW)
    return node


def _socket(sockets, identifier: str):
    """A socket by its identifier: the Mix node has one 'A', 'B' and 'Result' per data type."""
    return next(socket for socket in sockets if socket.identifier == identifier)


def remove_network(material: bpy.types.Material) -> None:
    """Take the maps off ``material``: the picture goes back on Base Color; the shared mapping
    stays (the artist may have tuned it)."""
    tree = material.node_tree
    nodes, links = tree.nodes, tree.links
    base = nodes.get(BASE)
    albedo = nodes.get(map_node_name("albedo"))
    if albedo is not None and base is not None:
        for link in list(albedo.outputs["Color"].links):
            links.new(base.outputs["Color"], link.to_socket)
    multiply = nodes.get(NODE_NAMES["ao_multiply"])
    if multiply is not None:
        color_a = _socket(multiply.inputs, "A_Color")
        source = color_a.links[0].from_socket if color_a.is_linked else None
        for link in list(_socket(multiply.outputs, "Result_Color").links):
            if source is not None:
                links.new(source, link.to_socket)
    names = [map_node_name(role) for role in MAP_ROLES]
    names += [NODE_NAMES[key] for key in ("normal_map", "bump", "displacement", "roughness_range",
                                          "ao_multiply")]
    for name in names:
        node = nodes.get(name)
        if node is not None:
            nodes.remove(node)
