"""A picture (an Image datablock) as a file the backend reads, for the jobs that work on one
(``derive_maps``, ``refine_texture``, ``inpaint_texture``, ``upscale_texture``).

Its own file goes as it is when the backend can read it and it shows what Blender shows;
a packed picture goes as its packed bytes; anything else (edited in Blender, OpenEXR, made
in Blender) as a PNG copy: 16-bit when the picture holds more than 8 bits, with the alpha
channel when the job needs it. Copies live in a folder of their own under Atelier's jobs
folder, removed by ``release`` when the job ends; made and locked like a job's own folder
(``client.job_folder``), so the folders of a Blender that crashed go at the next session's
first job.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from .. import preferences
from ..apply.map_images import display_rgb, pixels, write_png
from ..client import job_folder
from ..client.session import JobRefused

# Picture files the backend reads as they are (Blender's ``Image.file_format``, with the suffix
# a copy of the packed bytes gets); any other picture (OpenEXR, Radiance HDR, ...) goes as a PNG.
BACKEND_READABLE_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp",
                            "TARGA": ".tga", "TARGA_RAW": ".tga"}
# ``Image.depth`` (bits per pixel) of pictures that hold an alpha channel: RGBA at 8, 16 and 32 bits.
ALPHA_DEPTHS = {32, 64, 128}


def has_alpha_channel(picture: bpy.types.Image) -> bool:
    """Whether ``picture`` holds transparency (an RGBA file or buffer)."""
    return picture.depth in ALPHA_DEPTHS


def is_deep(picture: bpy.types.Image) -> bool:
    """More than 8 bits per channel (16-bit PNG, OpenEXR, float buffers): sent as 16-bit PNG."""
    return picture.is_float


# The input folders made here and not yet released, by path (what callers hold).
_made: dict[Path, job_folder.JobFolder] = {}


def input_folder(prefix: str, request_id: str) -> Path:
    """A new folder ``<prefix>-<request_id>`` for one job's input files, under Atelier's jobs
    folder (``job_folder.create``); ``JobRefused`` with the reason when it cannot be made."""
    try:
        folder = job_folder.create(preferences.user_folder("jobs"), f"{prefix}-{request_id}")
    except job_folder.JobFolderError as exc:
        raise JobRefused(str(exc)) from None
    _made[folder.path] = folder
    return folder.path


def release(folder: Path | None) -> None:
    """Remove a folder ``input_folder`` made (nothing for None, or for one already released)."""
    made = _made.pop(folder, None) if folder is not None else None
    if made is not None:
        made.remove()


def own_file(picture: bpy.types.Image) -> Path | None:
    """The picture's own file when the backend can read it and it is what Blender shows
    (not packed, not edited since it was loaded); else None."""
    own = Path(bpy.path.abspath(picture.filepath)) if picture.filepath else None
    if (picture.source == "FILE" and picture.packed_file is None and not picture.is_dirty
            and picture.file_format in BACKEND_READABLE_FORMATS and own is not None and own.is_file()):
        return own
    return None


def picture_path(picture: bpy.types.Image, folder_for_copy, *, alpha: bool = False) -> Path:
    """``picture`` as a file for the backend: its own file (``own_file``), its packed bytes
    when they are what Blender shows, else a PNG copy (with ``alpha``: RGBA).

    ``folder_for_copy()`` returns the folder for a copy; it is called only when one is written.
    """
    own = own_file(picture)
    if own is not None:
        return own
    packed = picture.packed_file
    if (packed is not None and picture.source == "FILE" and not picture.is_dirty
            and picture.file_format in BACKEND_READABLE_FORMATS):
        path = folder_for_copy() / f"picture{BACKEND_READABLE_FORMATS[picture.file_format]}"
        path.write_bytes(packed.data)
        return path
    path = folder_for_copy() / "picture.png"
    values = display_rgb(picture)
    if alpha:
        values = np.concatenate([values, pixels(picture)[..., 3:]], axis=-1)
    # 'Non-Color' writes the display values as they are, at 16 bits when asked.
    write_png(values, path, "Non-Color" if is_deep(picture) else "sRGB", sixteen_bit=is_deep(picture))
    return path
