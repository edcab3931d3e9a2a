"""A UV map for meshes that have none, so tangent-space normal and height maps (and projected
textures) can sit on them; and a mesh's UV triangles, to check them for overlaps.

Tangent space is built from UV coordinates: a box-projected texture has none, so a mesh without
UVs gets one named ``UV_MAP_NAME``, made by Smart UV Project.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..client.session import ApplyError

UV_MAP_NAME = "Atelier"
ANGLE_LIMIT = 1.15192  # radians (66 degrees): Smart UV Project's own default
ISLAND_MARGIN = 0.02  # of the UV square: keeps texture filtering from bleeding across islands


def users_of(material: bpy.types.Material) -> list[bpy.types.Object]:
    """The objects that show ``material`` in one of their slots."""
    return [obj for obj in bpy.data.objects
            if any(slot.material == material for slot in obj.material_slots)]


def meshes_without_uvs(objects) -> list[bpy.types.Object]:
    """One object per mesh that has no UV map (meshes shared by several objects count once)."""
    found, seen = [], set()
    for obj in objects:
        if obj.type == "MESH" and not obj.data.uv_layers and obj.data.name not in seen:
            seen.add(obj.data.name)
            found.append(obj)
    return found


def check_can_unwrap(context: bpy.types.Context, objects, why: str = "for normal and height maps") -> None:
    """Refuse, before anything changes, when an unwrap could not run; the message says the fix
    (``why`` says what needs the UV map)."""
    if not objects:
        return
    if context.mode != "OBJECT":
        raise ApplyError(f"{objects[0].name!r} needs a UV map {why}; switch "
                         "to Object Mode and run it again")
    view_layer = context.view_layer
    for obj in objects:
        if view_layer.objects.get(obj.name) is None or not obj.visible_get(view_layer=view_layer):
            raise ApplyError(f"{obj.name!r} needs a UV map {why} but is hidden "
                             "or outside the view layer; show it, or give it a UV map (UV > Smart UV "
                             "Project)")


def add_uv_maps(context: bpy.types.Context, objects, undo: list) -> list[str]:
    """Give each object in ``objects`` (meshes without UVs) a Smart UV Project map named
    ``UV_MAP_NAME``; ``undo`` gets a step removing it. Returns the objects' names.

    Edit mode works on the view layer's active object only, so each object is made active for
    its unwrap; the selection and the active object are restored after."""
    if not objects:
        return []
    view_layer = context.view_layer
    active, selected = view_layer.objects.active, [o for o in view_layer.objects if o.select_get()]
    try:
        for obj in objects:
            mesh = obj.data
            mesh.uv_layers.new(name=UV_MAP_NAME)
            undo.append(lambda mesh=mesh: _remove_uv_map(mesh))
            for other in view_layer.objects:
                other.select_set(False)
            view_layer.objects.active = obj
            obj.select_set(True)
            bpy.ops.object.mode_set(mode="EDIT")
            try:
                bpy.ops.mesh.select_all(action="SELECT")
                bpy.ops.uv.smart_project(angle_limit=ANGLE_LIMIT, island_margin=ISLAND_MARGIN)
            finally:
                bpy.ops.object.mode_set(mode="OBJECT")
    finally:
        for other in view_layer.objects:
            other.select_set(other in selected)
        view_layer.objects.active = active
    return [obj.name for obj in objects]


def _remove_uv_map(mesh: bpy.types.Mesh) -> None:
    # Looked up again: edit mode rebuilds the mesh's layers, so an older reference is stale.
    try:
        layer = mesh.uv_layers.get(UV_MAP_NAME)
    except ReferenceError:  # the mesh is gone (deleted, or another file was loaded): nothing to undo
        return
    if layer is not None:
        mesh.uv_layers.remove(layer)


def uv_triangles(mesh: bpy.types.Mesh, uv_map: str) -> np.ndarray:
    """The UV coordinates of ``mesh``'s triangles on ``uv_map`` (T x 3 x 2), e.g. an evaluated
    mesh's, for ``core.uv_overlap``."""
    triangles = mesh.loop_triangles
    loops = np.empty(len(triangles) * 3, dtype=np.int64)
    triangles.foreach_get("loops", loops)
    coordinates = np.empty(len(mesh.loops) * 2, dtype=np.float32)
    mesh.uv_layers[uv_map].uv.foreach_get("vector", coordinates)
    return coordinates.reshape(-1, 2)[loops].reshape(-1, 3, 2)
