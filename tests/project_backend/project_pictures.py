"""Depth images, pictures and masks for the projection backend tests, written with Pillow alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 64


def depth_disc(centre: tuple[int, int] = (32, 28), radius: int = 20, size: int = SIZE,
               width: int | None = None) -> np.ndarray:
    """An 8-bit depth image as a render gives it: a sphere's front, nearest (brightest) in the
    middle, the background black."""
    y, x = np.mgrid[0:size, 0:width or size]
    distance = np.hypot(x - centre[0], y - centre[1]) / radius
    nearness = np.sqrt(np.clip(1 - distance**2, 0, 1))  # the sphere's front bulges towards the camera
    return np.where(distance < 1, np.rint(80 + 175 * nearness), 0).astype(np.uint8)


def noise_picture(seed: int = 0, size: int = SIZE) -> np.ndarray:
    """An 8-bit RGB picture of random colours: the texture painted so far, seen from a view."""
    return (np.random.default_rng(seed).random((size, size, 3)) * 255).astype(np.uint8)


def unpainted_mask(size: int = SIZE) -> np.ndarray:
    """A view's mask (white = not painted yet): a block to the right, the rest painted."""
    mask = np.zeros((size, size), np.uint8)
    mask[size // 8:size * 5 // 8, size // 2:size * 15 // 16] = 255
    return mask


def save(pixels: np.ndarray, path: Path) -> Path:
    """Save 8-bit pixels (grey or RGB) as a PNG; returns the path."""
    Image.fromarray(pixels).save(path)
    return path


def read(path) -> np.ndarray:
    """A result PNG's pixels."""
    return np.asarray(Image.open(path))
