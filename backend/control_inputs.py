"""The files a ``project`` or ``restyle`` request names, checked before any model loads.

The control image (a depth render: normalised inverse depth, near bright) sets the size: a
view's ``image`` and ``mask`` must have exactly its size, since they are pixels of the same
camera, and its sides must suit every model family (multiples of 8) within the size limit.
"""

from __future__ import annotations

import numpy as np

from core import limits
from core.errors import TaskError
from core.families import SIZE_MULTIPLE

from . import image_edit
from .image_input import opened
from .tasks import texture

_GRID = texture.ANY_FAMILY_MULTIPLE


def check_request(request, strength: float) -> None:
    """Checks of ``request``'s settings that need no file: steps, strength, guidance, prompt and
    the output folder (the texture task's checks, as for the other edits)."""
    image_edit.checked_steps(request.steps, strength)
    texture.check_request(image_edit.as_texture_request(request))


def size_of(field: str, path: str) -> tuple[int, int]:
    """The (width, height) in the header of the file ``field`` names, or ``bad_request`` saying
    which field names a file that is missing, unreadable or out of the size limits."""
    try:
        with opened(path, limits.MIN_SIZE, limits.max_size()) as image:
            return image.width, image.height
    except TaskError as exc:  # its message speaks of an "image": say which field names it
        named = "" if field == "image" else f"{field}: "
        raise TaskError(exc.code, f"{named}{exc.message}", hint=exc.hint) from None


def check_control_size(path: str) -> tuple[int, int]:
    """The control image's (width, height); ``bad_request`` when a side is off the size grid."""
    width, height = size_of("control_image", path)
    if width % _GRID or height % _GRID:
        fit = "x".join(str(max(side // SIZE_MULTIPLE * SIZE_MULTIPLE, limits.MIN_SIZE))
                       for side in (width, height))
        raise TaskError("bad_request", f"control_image {path!r} is {width}x{height} pixels: its sides "
                        f"must be multiples of {_GRID}",
                        hint=f"render the depth image at a size such as 512x512 or {fit}")
    return width, height


def check_same_size(field: str, path: str, size: tuple[int, int]) -> None:
    """Refuse a file of another size than the control image's: it would not line up with it."""
    width, height = size_of(field, path)
    if (width, height) != size:
        raise TaskError("bad_request", f"{field} {path!r} is {width}x{height} pixels but the control image "
                        f"is {size[0]}x{size[1]}: they must be pictures of the same camera",
                        hint=f"render the {field} at {size[0]}x{size[1]}, the control image's size")


def read_control(path: str) -> np.ndarray:
    """The control image as float32 H x W x 3 in 0..1 (greyscale repeated; 16-bit kept)."""
    return image_edit.read_picture(path).unit()
