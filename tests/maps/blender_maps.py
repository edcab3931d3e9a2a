"""Scenes the Blender maps tests share: pictures as Image datablocks, materials showing them."""

from __future__ import annotations

import numpy as np

MAP_NODE = "Atelier {} map"  # the image node of one map (apply/pbr_material.map_node_name)


def image_from_array(bpy, rgb: np.ndarray, name: str = "Picture"):
    """An sRGB Image datablock holding ``rgb`` (H x W x 3, 0..1, top row first)."""
    height, width = rgb.shape[:2]
    image = bpy.data.images.new(name, width, height, alpha=False)
    rgba = np.ones((height, width, 4), dtype=np.float32)
    rgba[..., :3] = rgb
    image.pixels.foreach_set(rgba[::-1].ravel())
    image.pack()  # a picture saved with the .blend, as an artist's would be
    return image


def picture_material(bpy, image, name: str = "Picture", uvs: bool = True, size: float = 2.0):
    """A plane (with or without a UV map), selected and active, whose new material shows
    ``image`` on a Principled BSDF's Base Color. Returns (object, material)."""
    bpy.ops.mesh.primitive_plane_add(size=size, calc_uvs=uvs)
    obj = bpy.context.active_object
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    tree = material.node_tree
    bsdf = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
    texture = tree.nodes.new("ShaderNodeTexImage")
    texture.image = image
    tree.links.new(texture.outputs["Color"], bsdf.inputs["Base Color"])
    obj.data.materials.append(material)
    return obj, material


def stripes(width: int = 64, height: int = 64) -> np.ndarray:
    """A colour picture with relief to find: dark grooves across a lighter, mottled surface."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    grooves = (np.sin(2 * np.pi * x / 16) > 0.8).astype(np.float32)
    mottle = 0.1 * np.sin(2 * np.pi * (x + 2 * y) / 23)
    base = np.stack([0.7 + mottle, 0.5 + mottle, 0.35 + 0.5 * mottle], axis=-1)
    return np.clip(base * (1 - 0.6 * grooves[..., None]), 0, 1).astype(np.float32)


def node_links(material) -> set[tuple[str, str, str, str]]:
    """(from node name, from socket identifier, to node name, to socket identifier) of every link."""
    return {(link.from_node.name, link.from_socket.identifier, link.to_node.name, link.to_socket.identifier)
            for link in material.node_tree.links}


def read_pixels(image) -> np.ndarray:
    """An Image datablock's RGBA pixels, top row first."""
    width, height = image.size
    flat = np.empty(width * height * 4, dtype=np.float32)
    image.pixels.foreach_get(flat)
    return flat.reshape(height, width, 4)[::-1]
