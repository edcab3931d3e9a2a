"""Reading an image file a request names: checked before it is decoded, whatever its mode.

The header is read first, so a file that is missing, not an image, too small, beyond the size
limit or larger than ``MAX_PIXELS`` (more likely a decompression bomb than a texture) is refused
before any pixel is decoded. Every refusal is a ``bad_request`` naming the file and saying what
to change.

Modes are read for what they hold: greyscale stays one channel (repeated to RGB later),
palette images take their palette's colours, alpha is dropped, and 16-bit greyscale PNGs and
TIFFs (``I;16``, big-endian ``I;16B``) keep their 16-bit range instead of being clipped at 255,
which is what Pillow's own conversion to RGB does to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from core.errors import TaskError

# Larger images are refused before decoding: a 40 Mpx RGBA decode is 160 MB, and a file that
# claims more is more likely a decompression bomb than a photo.
MAX_PIXELS = 40_000_000
_FORMATS_HINT = "give the path of a PNG, JPEG, WebP or TIFF file"
# 16-bit greyscale modes; their numpy arrays are uint16 in the file's byte order (``>u2`` for a
# big-endian TIFF), which is turned to the native order so the range is read as uint16.
SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
# Greyscale modes holding more than 8 bits (16-bit, 32-bit integer, floating point): read through
# ``read_pixels``, which keeps their range.
DEEP_GREY = (*SIXTEEN_BIT, "I", "F")


def read_pixels(path: str, min_size: int, max_size: int) -> np.ndarray:
    """The pixels of the image file ``path`` as an array: H x W (greyscale, uint8 or uint16),
    H x W x 3 (uint8 RGB) or H x W float32 in 0..1 (a floating-point image).

    Each side must lie in ``min_size`` .. ``max_size``; ``TaskError`` (``bad_request``) otherwise.
    """
    with opened(path, min_size, max_size) as image:
        image.load()
        return _array_of(image)


@contextmanager
def opened(path: str, min_size: int = 1, max_size: int | None = None) -> Iterator:
    """The image file ``path`` opened with only its header read and checked (sides within
    ``min_size`` .. ``max_size``, None = no side limit; at most ``MAX_PIXELS``).

    Any failure to read it, while opening or while the caller decodes inside the ``with``, is a
    ``TaskError`` (``bad_request``) naming the file and saying what to change.
    """
    from PIL import Image, UnidentifiedImageError

    file = _existing_file(path)
    shown = repr(str(path))
    try:
        with Image.open(file) as image:  # reads the header only
            _check_size(shown, image.width, image.height, min_size, max_size)
            yield image
    except TaskError:
        raise
    except Image.DecompressionBombError as exc:
        raise TaskError("bad_request", f"image {shown} is too large to read safely ({exc})",
                        hint="use a smaller copy of the image") from None
    except UnidentifiedImageError:
        raise TaskError("bad_request", f"{shown} cannot be read: it is not an image Atelier can read",
                        hint=_FORMATS_HINT) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise TaskError("bad_request", f"image {shown} cannot be read ({exc})",
                        hint=f"{_FORMATS_HINT}; the file may be damaged or cut short") from None


def _existing_file(path: str) -> Path:
    if not str(path).strip():
        raise TaskError("bad_request", "no image was given", hint=_FORMATS_HINT)
    try:
        file = Path(path).expanduser()
        found, is_file = file.exists(), file.is_file()
    except (OSError, RuntimeError) as exc:  # a name too long to look up, "~name" of an unknown user
        raise TaskError("bad_request", f"image path {str(path)[:200]!r} cannot be used: {exc}",
                        hint=_FORMATS_HINT) from None
    if not found:
        raise TaskError("bad_request", f"image {str(path)!r} does not exist", hint=_FORMATS_HINT)
    if not is_file:
        raise TaskError("bad_request", f"{str(path)!r} is a folder, not an image file", hint=_FORMATS_HINT)
    return file


def _check_size(shown: str, width: int, height: int, min_size: int, max_size: int | None) -> None:
    if min(width, height) < min_size:
        raise TaskError("bad_request", f"image {shown} is {width}x{height} pixels; it must be at least "
                        f"{min_size}x{min_size}", hint=f"use an image of at least {min_size} pixels a side")
    if max_size is not None and max(width, height) > max_size:
        raise TaskError("bad_request", f"image {shown} is {width}x{height} pixels; at most {max_size} "
                        "pixels a side are read",
                        hint=f"use a smaller copy of the image (ATELIER_MAX_SIZE sets the limit, {max_size})")
    if width * height > MAX_PIXELS:
        raise TaskError("bad_request", f"image {shown} is {width}x{height} pixels; at most "
                        f"{MAX_PIXELS // 10**6} million are read", hint="use a smaller copy of the image")


def _array_of(image) -> np.ndarray:
    """The decoded ``image`` in the fewest conversions that keep its values."""
    mode = image.mode
    if mode in SIXTEEN_BIT:
        return np.asarray(image).astype(np.uint16)
    if mode == "I":  # 32-bit integers: what Pillow makes of 16-bit PNG and TIFF greyscale
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
    if mode == "F":
        return np.asarray(image, dtype=np.float32)
    if mode in ("L", "LA", "La", "1"):
        return np.asarray(image.convert("L"))
    return np.asarray(image.convert("RGB"))  # palette, RGBA, CMYK, YCbCr, ... : their colours
