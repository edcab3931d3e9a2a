"""Raw ``rgba8`` pixels from the backend into an Image: the cheapest hand-over Blender has.

The backend writes 8-bit RGBA, top row first (a live preview, or a texture's pixels sent ahead
of its PNG); Blender's ``Image.pixels`` are floats, bottom row first. Reading the bytes with
numpy and filling the Image with one ``foreach_set`` costs a few milliseconds at 512 px, where
decoding a PNG costs tens (bench/profile_texture.py measures both).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import bpy
import numpy as np

from ..client.session import ApplyError


def read_pixels(path: Path, width: int, height: int) -> np.ndarray:
    """A raw ``rgba8`` file (8-bit RGBA, top row first) as Blender's flat float pixels, bottom row
    first. Exactly the file checked on receipt is read: it is opened once, without following a
    link (a link swapped in meanwhile is refused), and that open file must be a regular one of
    exactly ``width`` x ``height`` x 4 bytes, before, while and after it is read. Raises
    ``ApplyError`` (or ``OSError``) otherwise."""
    expected = width * height * 4
    # O_NONBLOCK: a pipe swapped in fails the check below instead of blocking Blender in ``open``.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            raise ApplyError(f"the pixel file {path.name} is a link, not the file the backend "
                             "wrote; it is not read (run Doctor)") from None
        raise
    with os.fdopen(descriptor, "rb", buffering=0) as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_size != expected:
            raise _wrong_size(path, width, height, status.st_size)
        data = bytearray(expected)
        got = 0
        while got < expected:  # ``readinto`` may answer in parts; 0 is the end of the file
            count = file.readinto(memoryview(data)[got:])
            if not count:
                break
            got += count
        if got != expected or file.read(1):  # cut short or grown while it was read
            raise _wrong_size(path, width, height, os.fstat(file.fileno()).st_size)
    rows = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 4)
    return (rows[::-1].astype(np.float32) / 255.0).ravel()  # Blender's first row is the bottom one


def _wrong_size(path: Path, width: int, height: int, size: int) -> ApplyError:
    return ApplyError(f"the pixel file {path.name} holds {size} bytes, not {width}x{height}x4 "
                      "(or is no plain file); the backend wrote it wrongly, run Doctor")


def fill(image: bpy.types.Image, pixels: np.ndarray) -> None:
    """Put ``pixels`` (``read_pixels``' layout, the Image's size) into ``image``; the viewport
    redraws it from them."""
    image.pixels.foreach_set(pixels)
    image.update()
