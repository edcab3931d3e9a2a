"""Shared set-up for the maps tests: tiny Marigold models, test pictures, maps requests."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

_maps_ids = itertools.count()


def make_tiling_texture(width: int = 96, height: int = 64) -> np.ndarray:
    """A colour texture (float32 H x W x 3, 0..1) that tiles both ways: sums of sines whose
    periods divide the size, with different patterns per channel."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = 2 * np.pi * x / width, 2 * np.pi * y / height
    red = 0.5 + 0.3 * np.sin(2 * u) * np.cos(v)
    green = 0.5 + 0.25 * np.cos(u + 2 * v)
    blue = 0.45 + 0.2 * np.sin(3 * u) + 0.1 * np.cos(3 * v)
    return np.clip(np.stack([red, green, blue], axis=-1), 0, 1).astype(np.float32)


@pytest.fixture(scope="session")
def tiling_texture():
    """``tiling_texture(width=96, height=64)``: a colour texture that tiles both ways."""
    return make_tiling_texture


@pytest.fixture(scope="session")
def texture_png(tmp_path_factory) -> Path:
    """A 96 x 64 RGB PNG of the tiling texture."""
    from PIL import Image

    path = tmp_path_factory.mktemp("pictures") / "tiles.png"
    Image.fromarray(np.rint(make_tiling_texture() * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def maps_request(tiny_marigold, texture_png, tmp_path):
    """Builds a valid maps request for the tiny Marigold models; keyword arguments override."""
    def make(**fields) -> dict:
        request = {"type": "maps", "id": f"maps-{next(_maps_ids)}", "image": str(texture_png),
                   "output_dir": str(tmp_path / "out"), "model": str(tiny_marigold), "seed": 7}
        request.update(fields)
        return request

    return make
