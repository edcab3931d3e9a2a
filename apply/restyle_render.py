"""What ``atelier.restyle_render`` sends and gets back: the scene camera rendered at preview
quality (Cycles, few samples, small) or the viewport grabbed, as a PNG; and the restyled
picture as an Image datablock with provenance, shown in an Image Editor when there is one.

Every render setting changed for the preview is put back afterwards, whatever happens.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import bpy

from ..client.session import ApplyError
from ..core.families import SIZE_MULTIPLE
from . import project_render, project_views
from .names import datablock_name
from .texture import load_image, roll_back, store_provenance

PREVIEW_SIZE = 512  # the long side of a preview, in pixels (the scene's own when smaller)
PREVIEW_SAMPLES = 16  # Cycles samples: enough for the shapes and colours a restyle keeps
MIN_PREVIEW_SIDE = 64  # the smallest side a texture model takes
RENDER_RESULT = "Render Result"


def preview_size(scene: bpy.types.Scene) -> tuple[int, int]:
    """The scene's output size (percentage applied) scaled so the long side is at most
    ``PREVIEW_SIZE``, each side a multiple of ``SIZE_MULTIPLE`` and at least ``MIN_PREVIEW_SIDE``."""
    render = scene.render
    width = render.resolution_x * render.resolution_percentage / 100
    height = render.resolution_y * render.resolution_percentage / 100
    scale = min(1.0, PREVIEW_SIZE / max(width, height))

    def fit(side: float) -> int:
        return max(MIN_PREVIEW_SIDE, round(side * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE)

    return fit(width), fit(height)


def preview_settings(scene: bpy.types.Scene, size: tuple[int, int], engine: str | None = "CYCLES"):
    """The scene's render settings set for a quick preview of ``size`` (with ``engine``; None
    keeps the scene's), the whole frame as the depth render frames it
    (``project_render.frame_settings``), written as 8-bit RGB PNG; all put back on leaving."""
    settings = scene.render.image_settings
    changes = [*project_render.frame_settings(scene, *size),
               *([(scene.render, "engine", engine)] if engine is not None else []),
               *([(settings, "media_type", "IMAGE")] if hasattr(settings, "media_type") else []),
               (settings, "file_format", "PNG"), (settings, "color_mode", "RGB"),
               (settings, "color_depth", "8")]
    if engine == "CYCLES":
        # The denoiser costs more than the samples it saves.
        changes += [(scene.cycles, "samples", PREVIEW_SAMPLES), (scene.cycles, "use_denoising", False)]
    return project_render.settings_applied(changes)


def render_camera(context: bpy.types.Context, path: Path) -> tuple[int, int]:
    """Render the scene camera at preview quality into ``path`` (PNG); returns the size.
    ``ApplyError`` when the scene has no camera."""
    scene = context.scene
    if scene.camera is None:
        raise ApplyError("the scene has no camera to render; add one (Add > Camera) and make it the "
                         "scene camera (Scene properties), or use source='VIEWPORT'")
    size = preview_size(scene)
    with preview_settings(scene, size):
        bpy.ops.render.render()
        _save_render_result(scene, path)
    return size


def viewport(context: bpy.types.Context) -> project_views.ViewportView:
    """The 3D Viewport to grab (``project_views.viewport_view``); ``ApplyError`` saying what to
    do when there is none (no window at all under ``blender -b`` or the bpy module)."""
    if bpy.app.background or context.window_manager is None or not context.window_manager.windows:
        raise ApplyError("there is no viewport to grab: Blender runs without a window (background "
                         "mode); use source='RENDER' to render the scene camera instead")
    view = project_views.viewport_view(context)
    if view is None or view.window is None or view.region is None:
        raise ApplyError("no 3D Viewport is open to grab; open one, or use source='RENDER'")
    return view


def grab_viewport(context: bpy.types.Context, path: Path) -> tuple[int, int]:
    """The 3D Viewport drawn as it is (its view, shading and overlays off) at preview size into
    ``path`` (PNG); returns the size."""
    view = viewport(context)
    scene = context.scene
    size = preview_size(scene)
    with preview_settings(scene, size, engine=None), \
            context.temp_override(window=view.window, area=view.area, region=view.region):
        bpy.ops.render.opengl(write_still=False, view_context=True)
        _save_render_result(scene, path)
    return size


@contextlib.contextmanager
def viewport_camera(context: bpy.types.Context):
    """A camera that sees what the 3D Viewport shows, while the block runs: the scene camera when
    the viewport looks through it, else a temporary one shaped like the view, removed afterwards."""
    view = viewport(context)
    if view.through_camera:
        yield context.scene.camera
        return
    data = bpy.data.cameras.new("Atelier viewport")
    camera = bpy.data.objects.new("Atelier viewport", data)
    try:
        context.scene.collection.objects.link(camera)
        view.shape_camera(camera)
        yield camera
    finally:
        bpy.data.objects.remove(camera)
        bpy.data.cameras.remove(data)


def _save_render_result(scene: bpy.types.Scene, path: Path) -> None:
    result = bpy.data.images.get(RENDER_RESULT)
    if result is None:
        raise ApplyError("Blender made no render result; check the scene renders (F12)")
    try:
        result.save_render(str(path), scene=scene)  # the view transform applied: what the artist sees
    except RuntimeError as exc:
        raise ApplyError(f"cannot save the render to {path}: {exc}") from None


def restyled_image(path: Path, prompt: str, record: dict, storage: str) -> bpy.types.Image:
    """The restyled picture at ``path`` as an Image datablock ("Restyle <prompt>"), packed or
    saved per ``storage``, with provenance ``record``; nothing left behind when it fails."""
    created: list = []
    try:
        image = load_image(path, datablock_name(f"Restyle {prompt}"), storage, created)
        store_provenance(image, record)
    except BaseException:
        roll_back([], created)
        raise
    return image


def show_image(context: bpy.types.Context, image: bpy.types.Image) -> bool:
    """Show ``image`` in an Image Editor: the first one open, else the render view Blender opens
    (its "Render Display" preference); False when there is no window to show it in."""
    manager = context.window_manager
    windows = list(manager.windows) if manager is not None and not bpy.app.background else []
    if not windows:
        return False
    editor = _image_editor(windows)
    if editor is None:
        with context.temp_override(window=windows[0]):
            bpy.ops.render.view_show("INVOKE_DEFAULT")
        editor = _image_editor(list(manager.windows))
    if editor is None:
        return False
    editor.spaces.active.image = image
    editor.tag_redraw()
    return True


def _image_editor(windows):
    return next((area for window in windows for area in window.screen.areas
                 if area.type == "IMAGE_EDITOR"), None)
