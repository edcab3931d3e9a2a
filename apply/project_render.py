"""What each view camera sees: depth, object and UV of every pixel, and depth control images.

Two ways, each the fastest correct one for its job (figures from ``bench/project_blender.py``):
- the subject's own meshes, read as they render (``rendered_geometry``), are rasterised in
  numpy (``view_passes``) as Cycles would draw them (cut at the near clip plane, nothing past
  the far one): the triangles are already in memory for the bake, one pass gives depth, object
  and each mesh's own UV map together, and other scene objects cannot block the views;
- a whole scene as rendered (``render_depth``, for restyling a render) is drawn by Cycles at one
  sample with a view-depth emission override, so everything that renders (instances,
  displacement, curves) is in it.

No normal image is rendered: none of the control models in ``core.control_models`` asks for
one (they are all depth ControlNets).
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..core import projection, raster
from .map_images import pixels, write_png
from .nodes import node_tree


@dataclass
class MeshGeometry:
    """One object's evaluated triangles in world space, with its projection UV map."""

    name: str
    corners: np.ndarray  # T x 3 x 3 world positions
    normals: np.ndarray  # T x 3 x 3 unit world normals at the corners (smooth or flat as shaded)
    uvs: np.ndarray  # T x 3 x 2


@dataclass
class ViewPasses:
    """One view's pictures (top row first): depth along the view axis (inf where nothing), the
    index of the object seen (-1 where none) and the UV there on that object's map."""

    depth: np.ndarray
    object_index: np.ndarray
    uv: np.ndarray


def rendered_geometry(context: bpy.types.Context, objects: list[bpy.types.Object],
                      uv_maps: dict[str, str]) -> list[MeshGeometry]:
    """``mesh_geometry`` of each object as Cycles renders it: its modifiers switched to their
    render settings (``modifiers_as_rendered``) while the meshes are evaluated."""
    with modifiers_as_rendered(objects):
        depsgraph = context.evaluated_depsgraph_get()
        return [mesh_geometry(depsgraph, obj, uv_maps[obj.name]) for obj in objects]


@contextlib.contextmanager
def modifiers_as_rendered(objects: list[bpy.types.Object]):
    """While the block runs, the objects' modifiers are as in a render: each shown in the
    viewport exactly when it renders, subdivision and multires at their render levels. The
    artist's settings come back exactly afterwards, whatever happens."""
    saved = []
    try:
        for obj in objects:
            for modifier in obj.modifiers:
                changes = [("show_viewport", modifier.show_render)]
                if modifier.type in ("SUBSURF", "MULTIRES"):
                    changes.append(("levels", modifier.render_levels))
                for name, value in changes:
                    if getattr(modifier, name) != value:
                        saved.append((modifier, name, getattr(modifier, name)))
                        setattr(modifier, name, value)
        yield
    finally:
        for modifier, name, value in reversed(saved):
            setattr(modifier, name, value)


def mesh_geometry(depsgraph, obj: bpy.types.Object, uv_map: str) -> MeshGeometry:
    """``obj``'s mesh as ``depsgraph`` evaluates it (modifiers applied), its triangles in world
    space. Raises ValueError, saying the fix, when it has no faces or lacks the UV map ``uv_map``."""
    evaluated = obj.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        mesh.calc_loop_triangles()
        count = len(mesh.loop_triangles)
        if count == 0:
            raise ValueError(f"{obj.name!r} has no faces to paint; give it faces or leave it out")
        layer = mesh.uv_layers.get(uv_map)
        if layer is None:
            raise ValueError(f"{obj.name!r} has no UV map {uv_map!r} (as rendered); pick one of "
                             f"{[layer.name for layer in mesh.uv_layers]}")
        loops = np.empty(count * 3, dtype=np.int32)
        mesh.loop_triangles.foreach_get("loops", loops)
        vertices = np.empty(count * 3, dtype=np.int32)
        mesh.loop_triangles.foreach_get("vertices", vertices)
        co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
        mesh.vertices.foreach_get("co", co)
        uv = np.empty(len(mesh.loops) * 2, dtype=np.float32)
        layer.uv.foreach_get("vector", uv)
        normal = np.empty(len(mesh.loops) * 3, dtype=np.float32)
        mesh.corner_normals.foreach_get("vector", normal)
        matrix = np.array(evaluated.matrix_world, dtype=np.float64)
    finally:
        evaluated.to_mesh_clear()
    points = co.reshape(-1, 3)[vertices].astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
    normals = normal.reshape(-1, 3)[loops].astype(np.float64) @ np.linalg.inv(matrix[:3, :3])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return MeshGeometry(obj.name, points.reshape(count, 3, 3), normals.reshape(count, 3, 3),
                        uv.reshape(-1, 2)[loops].astype(np.float64).reshape(count, 3, 2))


def view_passes(camera: projection.ViewCamera, meshes: list[MeshGeometry]) -> ViewPasses:
    """Depth, object index and UV of each pixel of ``camera``'s picture of ``meshes``, as
    Cycles renders it: triangles crossing the near clip plane are cut there, surfaces beyond
    the far one are not seen."""
    local = camera.local(np.concatenate([mesh.corners for mesh in meshes]))
    owner = np.concatenate([np.full(len(mesh.corners), i) for i, mesh in enumerate(meshes)])
    values, source = projection.clip_near(np.concatenate(
        [local, np.concatenate([mesh.uvs for mesh in meshes])], axis=-1), camera.clip_start)
    x, y, depth = camera.picture(values[..., :3])
    owner, uvs = owner[source], values[..., 3:]
    nearness = 1.0 / depth if camera.perspective else -depth
    triangle, weights = raster.rasterize(np.stack([x, y], axis=-1), camera.size, camera.size, nearness)
    tri = triangle[triangle >= 0]
    hit = triangle >= 0
    if camera.perspective:  # barycentrics on the picture plane -> on the surface
        weights = weights[hit] * nearness[tri]
        weights /= weights.sum(-1, keepdims=True)
    else:
        weights = weights[hit]
    seen = (weights * depth[tri]).sum(-1)
    beyond = seen > camera.clip_end  # the nearest surface is past the far plane: nothing there
    hit[hit] = ~beyond
    tri, weights, seen = tri[~beyond], weights[~beyond], seen[~beyond]
    depth_picture = np.full(triangle.shape, np.inf)
    depth_picture[hit] = seen
    object_index = np.full(triangle.shape, -1, dtype=np.int64)
    object_index[hit] = owner[tri]
    uv = np.zeros(triangle.shape + (2,))
    uv[hit] = (weights[..., None] * uvs[tri]).sum(1)
    return ViewPasses(depth_picture, object_index, uv)


def write_control_image(depth: np.ndarray, path: Path) -> Path:
    """Save a depth picture as the ControlNet's 8-bit greyscale inverse depth PNG."""
    write_png(projection.inverse_depth(depth), path, "Non-Color")
    return path


def render_depth(context: bpy.types.Context, camera: bpy.types.Object, width: int,
                 height: int) -> np.ndarray:
    """Depth along ``camera``'s view axis of the scene as rendered (H x W, top row first, inf
    where nothing), drawn by Cycles on the CPU at one sample. Every render setting it changes
    is restored; nothing is added to the scene."""
    scene = context.scene
    had_render_result = any(image.type == "RENDER_RESULT" for image in bpy.data.images)
    material = bpy.data.materials.new("Atelier view depth")
    try:
        _depth_emission(material)
        with tempfile.TemporaryDirectory(prefix="atelier-depth-") as folder, \
                _depth_render_settings(scene, context.view_layer, camera, width, height, material):
            path = Path(folder) / "depth.exr"
            scene.render.filepath = str(path)
            bpy.ops.render.render(write_still=True, scene=scene.name)
            image = bpy.data.images.load(str(path))
            try:
                values = pixels(image)
            finally:
                bpy.data.images.remove(image)
    finally:
        bpy.data.materials.remove(material)
        if not had_render_result:  # rendering made one; the scene had none
            for image in [image for image in bpy.data.images if image.type == "RENDER_RESULT"]:
                bpy.data.images.remove(image)
    depth = values[..., 0].astype(np.float64)
    return np.where(values[..., 3] > 0.5, depth, np.inf)


def write_depth_control_image(context: bpy.types.Context, camera: bpy.types.Object, width: int,
                              height: int, path: Path) -> Path:
    """The ControlNet depth image (``write_control_image``) of the scene as ``camera`` renders
    it, ``width`` x ``height`` pixels, saved at ``path``."""
    return write_control_image(render_depth(context, camera, width, height), path)


def _depth_emission(material: bpy.types.Material) -> None:
    """Make ``material`` emit its view depth (Camera Data's View Z Depth) as its colour."""
    tree = node_tree(material)
    output = tree.get_output_node("CYCLES")
    camera_data = tree.nodes.new("ShaderNodeCameraData")
    emission = tree.nodes.new("ShaderNodeEmission")
    tree.links.new(camera_data.outputs["View Z Depth"], emission.inputs["Color"])
    tree.links.new(emission.outputs["Emission"], output.inputs["Surface"])


def frame_settings(scene: bpy.types.Scene, width: int, height: int) -> list[tuple]:
    """(owner, name, value) of the render settings that make a render the camera's whole frame
    at ``width`` x ``height``, pixel for pixel: no border or crop, square pixels, one view, no
    compositor or sequencer. Every render of one camera that must line up with another (the
    restyle picture and its depth) uses these."""
    render = scene.render
    return [(render, "resolution_x", width), (render, "resolution_y", height),
            (render, "resolution_percentage", 100), (render, "use_border", False),
            (render, "use_crop_to_border", False), (render, "pixel_aspect_x", 1.0),
            (render, "pixel_aspect_y", 1.0), (render, "use_multiview", False),
            (render, "use_compositing", False), (render, "use_sequencer", False)]


@contextlib.contextmanager
def settings_applied(settings: list[tuple]):
    """While the block runs, each (owner, name, value) of ``settings`` is set; every one comes
    back afterwards in order (a format before its colour depth), whatever happens."""
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in settings]
    try:
        for owner, name, value in settings:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def _depth_render_settings(scene, view_layer, camera, width, height, material):
    """Cycles at one sample through pixel centres, float output, the depth override, the whole
    frame (``frame_settings``): the scene's own settings come back afterwards."""
    return settings_applied([
        *frame_settings(scene, width, height),
        (scene, "camera", camera), (scene.render, "engine", "CYCLES"),
        (scene.render, "film_transparent", True),
        # No smear, the active view layer only.
        (scene.render, "use_motion_blur", False), (scene.render, "use_single_layer", True),
        (scene.cycles, "film_exposure", 1.0),
        (scene.render, "filepath", scene.render.filepath),
        (scene.cycles, "device", "CPU"), (scene.cycles, "samples", 1),
        (scene.cycles, "use_denoising", False), (scene.cycles, "filter_width", 0.01),
        (scene.cycles, "use_adaptive_sampling", False),
        *([(scene.render.image_settings, "media_type", "IMAGE")]
          if hasattr(scene.render.image_settings, "media_type") else []),  # Blender 5.0 on
        (scene.render.image_settings, "file_format", "OPEN_EXR"),
        (scene.render.image_settings, "color_depth", "32"),
        (view_layer, "material_override", material),
    ])
