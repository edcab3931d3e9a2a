"""Helpers for the projection geometry tests: a stand-in for the backend that paints known
patterns, and an independent check that re-renders a baked texture with Cycles."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
from PIL import Image


def module(addon, name: str):
    """A module of the installed extension, e.g. ``module(addon, "apply.projection_run")``."""
    return importlib.import_module(f"{addon.__name__}.{name}")


def read_png(path: Path, mode: str = "RGB") -> np.ndarray:
    """A PNG as floats 0..1, top row first."""
    with Image.open(path) as image:
        return np.asarray(image.convert(mode), dtype=np.float32) / 255.0


def crossed_stripes(size: int, index: int, period: float = 12.0) -> np.ndarray:
    """A known picture for view ``index``: smooth red stripes one way and green stripes across
    them, turned and tinted per view, so a picture moved by a pixel in any direction differs."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    angle = math.radians(30.0 + 47.0 * index)
    along = 2 * math.pi * (x * math.cos(angle) + y * math.sin(angle)) / period
    across = 2 * math.pi * (-x * math.sin(angle) + y * math.cos(angle)) / period
    red = 0.5 + 0.4 * np.sin(along)
    green = 0.5 + 0.4 * np.sin(across + index)
    blue = np.full_like(red, 0.2 + 0.15 * (index % 4))
    return np.stack([red, green, blue], axis=-1)


LOOKING_ALONG_Y = (math.pi / 2, 0.0, 0.0)  # a camera's rotation to look along +Y, level


def scene_camera(bpy, location=(0.0, -10.0, 0.0), rotation=LOOKING_ALONG_Y):
    """A new camera object "Camera" (by default 10 units in front, looking along +Y), linked to
    the scene and made its camera."""
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.location, camera.rotation_euler = location, rotation
    bpy.context.scene.collection.objects.link(camera)
    bpy.context.scene.camera = camera
    return camera


def view_share(run, index: int) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel of view ``index`` of a finished ``run`` (view_size square, top row first):
    the share (0..1) of its texel's colour that comes from that view, and where the view sees
    the subject at all."""
    projection = module_of(run, "core.projection")
    project_picture = module_of(run, "apply.project_bake").project_picture
    size, passes = run._texture_size, run._passes[index]
    share = np.zeros(passes.depth.shape, dtype=np.float32)
    blank = np.zeros(passes.depth.shape + (3,), dtype=np.float32)
    for k, surface in enumerate(run._texel_surfaces()):
        weight, _ = project_picture(surface, run._cameras[index], passes, blank)
        grid = np.zeros(size * size, dtype=np.float32)
        grid[surface.texels] = weight / np.maximum(run._weights[k], 1e-12)
        filled = projection.fill_unseen(grid.reshape(size, size, 1), surface.covered)
        here = passes.object_index == k
        share[here] = projection.bilinear(filled, *projection.uv_to_texel(passes.uv[here], size))[:, 0]
    return share, passes.object_index >= 0


def module_of(instance, name: str):
    """A module of the extension ``instance``'s class comes from, e.g. "core.projection"."""
    package = type(instance).__module__.split(".apply.")[0]
    return importlib.import_module(f"{package}.{name}")


def paint_views(run, folder: Path, picture_of) -> dict[int, np.ndarray]:
    """Drive ``run`` to its end as the backend would: each view's picture is ``picture_of(job)``
    (H x W x 3, 0..1) where the mask asks for paint and the known picture elsewhere. Returns
    view index -> the picture sent (as saved, 8-bit)."""
    sent = {}
    while (job := run.next_view()) is not None:
        picture = picture_of(job)
        if job.mask is not None:
            unpainted = read_png(job.mask, "L")[..., None] > 0.5
            assert unpainted.any(), "a view was sent with nothing to paint"
            picture = np.where(unpainted, picture, read_png(job.image))
        path = folder / f"picture-{job.index}.png"
        Image.fromarray(np.rint(np.clip(picture, 0, 1) * 255).astype(np.uint8)).save(path)
        run.accept(job, path)
        sent[job.index] = read_png(path)
    return sent


def emission_material(bpy, obj, texture: np.ndarray, uv_map: str):
    """Give ``obj`` only an emission material showing ``texture`` (RGBA, top row first, sRGB)
    on UV map ``uv_map``: rendered, it shows the texture's colours exactly."""
    size = texture.shape[0]
    image = bpy.data.images.new(f"{obj.name} baked", size, size, alpha=True)
    image.pixels.foreach_set(np.ascontiguousarray(texture[::-1]).ravel())
    material = bpy.data.materials.new(f"{obj.name} baked")
    if material.node_tree is None:  # Blender 4.x makes materials without nodes
        material.use_nodes = True
    tree = material.node_tree
    tree.nodes.clear()
    uv = tree.nodes.new("ShaderNodeUVMap")
    uv.uv_map = uv_map
    node = tree.nodes.new("ShaderNodeTexImage")
    node.image, node.extension = image, "EXTEND"
    emission = tree.nodes.new("ShaderNodeEmission")
    output = tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(uv.outputs["UV"], node.inputs["Vector"])
    tree.links.new(node.outputs["Color"], emission.inputs["Color"])
    tree.links.new(emission.outputs["Emission"], output.inputs["Surface"])
    obj.data.materials.clear()
    obj.data.materials.append(material)


def render_view(bpy, camera, size: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Render the scene from ``camera`` with Cycles, one sample through each pixel centre and
    colours passed as they are; returns RGB and coverage (alpha > 0.5), top row first."""
    scene = bpy.context.scene
    scene.camera = camera
    scene.render.engine = "CYCLES"
    scene.cycles.device, scene.cycles.samples = "CPU", 1
    scene.cycles.use_denoising, scene.cycles.filter_width = False, 0.01
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = True
    scene.view_settings.view_transform, scene.view_settings.look = "Standard", "None"
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    rgba = read_png(path, "RGBA")
    return rgba[..., :3], rgba[..., 3] > 0.5


def turned(bpy, camera, degrees: float):
    """A copy of ``camera`` turned ``degrees`` about its own up axis (a wrong camera)."""
    from mathutils import Matrix

    copy = camera.copy()
    bpy.context.scene.collection.objects.link(copy)
    copy.matrix_world = camera.matrix_world @ Matrix.Rotation(math.radians(degrees), 4, "Y")
    return copy


def shifted(bpy, camera, pixels: float, size: int):
    """A copy of ``camera`` whose ``size`` square picture is moved ``pixels`` sideways (a
    wrong camera); its own camera data, so ``camera`` is untouched."""
    copy = camera.copy()
    copy.data = camera.data.copy()
    copy.data.shift_x += pixels / size
    bpy.context.scene.collection.objects.link(copy)
    return copy


def remove_camera(bpy, camera) -> None:
    """Remove a camera object made by ``turned`` or ``shifted`` (and data of its own)."""
    data = camera.data
    bpy.data.objects.remove(camera)
    if data.users == 0:
        bpy.data.cameras.remove(data)
