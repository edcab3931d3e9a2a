"""Node trees of materials and worlds across Blender versions.

Blender 5.0 always uses a datablock's node tree (``use_nodes`` is deprecated); 4.x makes new
materials and worlds without one and may have a tree switched off.
"""

import bpy


def uses_nodes(datablock) -> bool:
    """Whether ``datablock`` (a material or world) renders through its node tree."""
    if datablock.node_tree is None:
        return False
    return bpy.app.version >= (5, 0, 0) or datablock.use_nodes


def node_tree(datablock) -> bpy.types.NodeTree:
    """The node tree ``datablock`` renders through, switched on (4.x makes it on request)."""
    if not uses_nodes(datablock):
        datablock.use_nodes = True
    return datablock.node_tree


def find_node(tree: bpy.types.NodeTree, node_type: str):
    """The first node of ``node_type`` (e.g. ``'BSDF_PRINCIPLED'``, ``'BACKGROUND'``), or None."""
    return next((n for n in tree.nodes if n.type == node_type), None)
