"""The views of a projection kept in the scene for the artist to inspect: a hidden collection
named after the result with one camera per view, and each view's picture as an Image datablock
named "<result> <camera name>".

Everything made here is appended to one list, so ``remove_created`` takes it all away again and
the scene is as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..core import projection
from .names import MAX_NAME_BYTES, datablock_name
from .texture import load_image

CLIP_END_MOST = 1e6  # a Blender camera's clip end cannot be infinite


# The 3D Viewport frames its view as a camera with a 72 mm sensor would (Blender draws it at
# twice a 36 mm camera's zoom), so a camera with the view's lens and this sensor sees the same.
VIEWPORT_SENSOR = 72.0


@dataclass(frozen=True)
class ViewportView:
    """The 3D Viewport as a camera: where it is on screen (``window`` may be None without one,
    ``region`` is its drawing region) and the pose and lens that see what it shows.

    ``matrix`` is camera to world; perspective views have ``lens`` (mm against
    ``VIEWPORT_SENSOR``, across the region's longer side), orthographic ones ``ortho_scale``
    (world units across it), set back along the view axis so nothing the viewport shows lies
    behind them (it draws from -clip_end / 2). ``through_camera``: the viewport looks through
    the scene camera, so that camera is the view."""

    window: bpy.types.Window | None
    area: bpy.types.Area
    region: bpy.types.Region | None
    matrix: np.ndarray
    perspective: bool
    lens: float
    ortho_scale: float
    clip_start: float
    clip_end: float
    through_camera: bool

    @property
    def fov(self) -> float:
        """Field of view (radians) across the region's longer side."""
        return 2 * math.atan(VIEWPORT_SENSOR / 2 / self.lens)

    def view_camera(self, size: int) -> projection.ViewCamera:
        """The viewport as a ``size`` square view (the square spans the longer side)."""
        return projection.ViewCamera(self.matrix, size, self.perspective, fov=self.fov,
                                     ortho_scale=self.ortho_scale, clip_start=self.clip_start,
                                     clip_end=self.clip_end)

    def shape_camera(self, camera: bpy.types.Object) -> None:
        """Pose and shape the Blender ``camera`` object so it renders what the viewport shows."""
        camera.matrix_world = Matrix(self.matrix.tolist())
        data = camera.data
        data.type = "PERSP" if self.perspective else "ORTHO"
        data.sensor_fit, data.sensor_width = "AUTO", VIEWPORT_SENSOR
        data.lens, data.ortho_scale = self.lens, self.ortho_scale
        data.shift_x = data.shift_y = 0.0
        data.clip_start, data.clip_end = self.clip_start, self.clip_end


def viewport_view(context: bpy.types.Context) -> ViewportView | None:
    """The 3D Viewport of ``context`` (else the first one open in a window) as a camera
    (``ViewportView``); None when no 3D Viewport is open."""
    found = _viewport_area(context)
    if found is None:
        return None
    window, area = found
    space = area.spaces.active
    view = space.region_3d
    region = next((region for region in area.regions if region.type == "WINDOW"), None)
    matrix = np.array(view.view_matrix.inverted(), dtype=np.float64)
    through = view.view_perspective == "CAMERA" and context.scene.camera is not None
    if view.view_perspective != "ORTHO":  # what the view is set to (is_perspective waits for a redraw)
        return ViewportView(window, area, region, matrix, True, float(space.lens), 1.0,
                            float(space.clip_start), float(space.clip_end), through)
    # Blender draws an orthographic view from -clip_end / 2 to +clip_end / 2 around its point,
    # with ortho_scale = distance * sensor / lens at the viewport's zoom of 2 (BKE_camera
    # params_from_view3d); a camera cannot clip behind itself, so it steps back instead.
    reach = float(space.clip_end) / 2
    matrix[:3, 3] += matrix[:3, 2] * reach
    return ViewportView(window, area, region, matrix, False, float(space.lens),
                        float(view.view_distance) * VIEWPORT_SENSOR / float(space.lens),
                        1e-3, 2 * reach, through)


def _viewport_area(context):
    """(window or None, area) of the current 3D Viewport, else of the first open one."""
    space = context.space_data
    if space is not None and space.type == "VIEW_3D" and context.area is not None:
        return context.window, context.area
    screens = [(context.window, context.screen)] if context.screen else []
    manager = context.window_manager
    screens += [(window, window.screen) for window in (manager.windows if manager else ())]
    for window, screen in screens:
        for area in screen.areas:
            if area.type == "VIEW_3D" and area.spaces.active.region_3d is not None:
                return window, area
    return None


def scene_view(context: bpy.types.Context, size: int) -> projection.ViewCamera:
    """The one view of ``views=1``: the scene camera (pose, lens, sensor fit, shift and clip
    range), its ``size`` square view holding the whole frame the scene renders; else the 3D
    viewport's view. Raises ValueError, saying the fix, when there is neither or the camera is
    panoramic."""
    camera = context.scene.camera
    if camera is not None:
        data = camera.data
        if data.type == "PANO":
            raise ValueError(f"the scene camera {camera.name!r} is panoramic; one view projects from "
                             "a perspective or orthographic camera: change its type or use views >= 2")
        perspective = data.type == "PERSP"
        # Half the frame's extent along the side the sensor fits: a tangent, or world units.
        fitted = data.sensor_height if data.sensor_fit == "VERTICAL" else data.sensor_width
        half_fit = fitted / 2 / data.lens if perspective else data.ortho_scale / 2
        half_square, shift_scale = _square_around_frame(context.scene.render, data.sensor_fit, half_fit)
        return projection.ViewCamera(
            _unscaled(camera.matrix_world), size, perspective,
            fov=2 * math.atan(half_square) if perspective else float(data.angle),
            ortho_scale=float(data.ortho_scale) if perspective else 2 * half_square,
            shift_x=float(data.shift_x) * shift_scale, shift_y=float(data.shift_y) * shift_scale,
            clip_start=float(data.clip_start), clip_end=float(data.clip_end))
    viewport = viewport_view(context)
    if viewport is None:
        raise ValueError("one view projects from the scene camera or the 3D viewport, and there is "
                         "neither; add a camera (Add > Camera) or use views >= 2")
    return viewport.view_camera(size)


def _square_around_frame(render, sensor_fit: str, half_fit: float) -> tuple[float, float]:
    """The square holding a camera's frame as ``render`` shapes it: half its side (in the units
    of ``half_fit``, half the frame along the side the sensor fits) and the factor that turns
    the camera's shift (a share of the fitted side) into a share of the square's side."""
    aspect = (render.resolution_x * render.pixel_aspect_x) / (render.resolution_y * render.pixel_aspect_y)
    fits_width = sensor_fit == "HORIZONTAL" or (sensor_fit == "AUTO" and aspect >= 1)
    half_x, half_y = (half_fit, half_fit / aspect) if fits_width else (half_fit * aspect, half_fit)
    half_square = max(half_x, half_y)
    return half_square, half_fit / half_square


def _unscaled(matrix) -> np.ndarray:
    """A camera's world matrix with any scale taken out (the projection assumes unit axes)."""
    location, rotation, _ = matrix.decompose()
    return np.array(Matrix.LocRotScale(location, rotation, None), dtype=np.float64)


def add_view_cameras(context: bpy.types.Context, name: str, cameras: list[projection.ViewCamera],
                     created: list) -> tuple[bpy.types.Collection, list]:
    """A hidden collection ``name`` under the scene's, holding one camera object per view
    ("View 1", ...) posed and shaped like ``cameras`` (a square render of each shows its view);
    returns it and the camera objects."""
    collection = bpy.data.collections.new(datablock_name(name))
    created.append(collection)
    context.scene.collection.children.link(collection)
    collection.hide_viewport = collection.hide_render = True
    objects = []
    for index, view in enumerate(cameras):
        data = bpy.data.cameras.new(f"View {index + 1}")
        created.append(data)
        data.type = "PERSP" if view.perspective else "ORTHO"
        data.sensor_fit = "AUTO"
        data.angle = view.fov
        data.ortho_scale = view.ortho_scale
        data.shift_x, data.shift_y = view.shift_x, view.shift_y
        data.clip_start, data.clip_end = view.clip_start, min(view.clip_end, CLIP_END_MOST)
        obj = bpy.data.objects.new(data.name, data)
        created.append(obj)
        obj.matrix_world = Matrix(np.asarray(view.matrix).tolist())
        collection.objects.link(obj)
        objects.append(obj)
    return collection, objects


def store_view_image(result: str, camera: bpy.types.Object, picture: Path, created: list,
                     storage: str = "PACK") -> bpy.types.Image:
    """Load a view's picture into an Image datablock "<result> <camera name>" (``view_image_name``),
    packed or saved per ``storage`` like a generated texture (``texture.load_image``), so it
    outlives the work files. It becomes the view camera's background image (hidden until the
    artist turns it on): that user keeps it in a saved file, and deleting the views frees it."""
    image = load_image(picture, view_image_name(result, camera.name), storage, created)
    camera.data.background_images.new().image = image
    return image


def view_image_name(result: str, camera_name: str) -> str:
    """"<result> <camera name>" within a datablock name's bytes: a long result is cut (never
    inside a UTF-8 character) so the camera's name stays whole."""
    suffix = f" {camera_name}"
    room = max(MAX_NAME_BYTES - len(suffix.encode("utf-8")), 1)
    head = " ".join(result.split()).encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip()
    return datablock_name(f"{head or 'Atelier'}{suffix}")


def remove_created(created: list) -> None:
    """Remove what ``created`` lists, newest first; the list is emptied."""
    removers = {bpy.types.Collection: bpy.data.collections, bpy.types.Object: bpy.data.objects,
                bpy.types.Camera: bpy.data.cameras, bpy.types.Image: bpy.data.images}
    while created:
        datablock = created.pop()
        if isinstance(datablock, Path):  # a saved view image's file
            datablock.unlink(missing_ok=True)
            continue
        for kind, collection in removers.items():
            if isinstance(datablock, kind):
                try:
                    collection.remove(datablock)
                except ReferenceError:  # the artist removed it already
                    pass
                break
