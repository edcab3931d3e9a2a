"""Pictures, masks and 16-bit PNG files for the edit tests, written and read without the backend's
own PNG code (so a fault there cannot hide itself), and the local seam measure."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 64


def noise_picture(seed: int = 0, size: int = SIZE) -> np.ndarray:
    """An 8-bit RGB picture of random colours (H x W x 3)."""
    return (np.random.default_rng(seed).random((size, size, 3)) * 255).astype(np.uint8)


def ramp_picture(size: int = SIZE) -> np.ndarray:
    """An 8-bit RGB picture that does not tile: ramps from one edge to the other."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    return np.rint(np.stack([x, y, (x + y) / 2], axis=-1) * 255).astype(np.uint8)


def block_mask(height: int = SIZE, width: int = SIZE) -> np.ndarray:
    """An 8-bit greyscale mask: a white block off the centre, black elsewhere."""
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4:height * 5 // 8, width * 5 // 16:width * 3 // 4] = 255
    return mask


def save(pixels: np.ndarray, path: Path) -> Path:
    """Save 8-bit pixels (grey, RGB or RGBA) as a PNG; returns the path."""
    Image.fromarray(pixels).save(path)
    return path


def write_rgb16(pixels: np.ndarray, path: Path) -> Path:
    """A 16-bit RGB PNG with the Up filter on every row (as encoders write them), independent of
    Pillow (which writes 16-bit colour not at all)."""
    height, width = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels.astype(">u2")).view(np.uint8).reshape(height, width * 6)
    above = np.vstack([np.zeros((1, width * 6), np.uint8), rows[:-1]])
    filtered = (rows.astype(np.int16) - above) % 256
    raw = np.hstack([np.full((height, 1), 2, np.uint8), filtered.astype(np.uint8)]).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw))
                     + _chunk(b"IEND", b""))
    return path


def read_rgb16(path: Path) -> np.ndarray:
    """The pixels of a 16-bit RGB PNG whose rows use filter 0 (None) or 2 (Up)."""
    data = Path(path).read_bytes()
    chunks, offset = {}, 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunks[kind] = chunks.get(kind, b"") + data[offset + 8:offset + 8 + length]
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (16, 2), (depth, colour)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, 1 + width * 6)
    rows = np.zeros((height, width * 6), np.uint8)
    for index, (kind, line) in enumerate(zip(raw[:, 0], raw[:, 1:], strict=True)):
        assert kind in (0, 2), f"filter {kind} is not read here"
        rows[index] = line if kind == 0 or index == 0 else (line.astype(np.int16) + rows[index - 1]) % 256
    return rows.view(">u2").reshape(height, width, 3).astype(np.uint16)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def seam_against_band(pixels: np.ndarray, band: int, axis: int) -> float:
    """Mean difference across the wrap-around seam of ``axis`` (1: last column to first) over the
    mean difference between neighbouring lines in the ``band`` lines on either side of it: about
    1 when the seam is no harsher than the picture around it."""
    lines = np.moveaxis(np.asarray(pixels, np.float64), axis, 0)
    half = band // 2
    around = np.concatenate([lines[-half:], lines[:half]])  # the band, continuous across the seam
    inside = np.abs(np.diff(around, axis=0))
    seam = inside[half - 1]  # last line to first
    return float(seam.mean() / np.delete(inside, half - 1, axis=0).mean())
