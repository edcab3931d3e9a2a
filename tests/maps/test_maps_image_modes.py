"""Greyscale, RGBA, palette and 16-bit images are read for the values they hold.

The decisive case is 16-bit greyscale: Pillow's own conversion to RGB clips it at 255, which
would turn every 16-bit picture white; the backend must keep its range, in either byte order.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from backend.tasks.maps import read_image

SIZE = (24, 16)  # width, height


def ramp(top: int, dtype) -> np.ndarray:
    """A horizontal ramp 0..top (H x W)."""
    return np.tile(np.linspace(0, top, SIZE[0]), (SIZE[1], 1)).round().astype(dtype)


def write(tmp_path, name: str, image: Image.Image) -> str:
    path = tmp_path / name
    image.save(path)
    return str(path)


def sixteen_bit(values: np.ndarray, mode: str) -> Image.Image:
    """``values`` (uint16) as a Pillow image of the 16-bit mode ``mode`` (I;16, I;16L, I;16B)."""
    order = ">u2" if mode == "I;16B" else "<u2"
    return Image.frombytes(mode, (values.shape[1], values.shape[0]), values.astype(order).tobytes())


# (file name, mode written, mode Pillow reads it back as): a big-endian TIFF reads as I;16B,
# whose pixels are ">u2"; a little-endian one reads as I;16.
SIXTEEN_BIT_FILES = [("grey16.png", "I;16", "I;16"), ("grey16-big.tif", "I;16B", "I;16B"),
                     ("grey16-little.tif", "I;16L", "I;16")]


@pytest.mark.parametrize("name, written, read", SIXTEEN_BIT_FILES, ids=[f[0] for f in SIXTEEN_BIT_FILES])
def test_sixteen_bit_greyscale_keeps_its_range(tmp_path, name, written, read):
    values = ramp(65535, np.uint16)
    path = write(tmp_path, name, sixteen_bit(values, written))
    assert Image.open(path).mode == read
    rgb = read_image(path)
    assert rgb.shape == (*values.shape, 3) and rgb.dtype == np.float32
    assert np.allclose(rgb[..., 0], values / 65535, atol=1e-6)
    assert np.array_equal(rgb[..., 0], rgb[..., 2])
    assert len(np.unique(rgb)) == SIZE[0]  # every step distinct, none clipped to white
    clipped = np.asarray(Image.open(path).convert("RGB"))  # what a naive read gives
    assert len(np.unique(clipped)) < SIZE[0] / 2


@pytest.mark.parametrize("mode", ["L", "LA", "1"])
def test_greyscale_is_repeated_to_three_channels(tmp_path, mode):
    grey = ramp(255, np.uint8)
    image = Image.fromarray(grey).convert(mode)
    expected = np.asarray(image.convert("L")) / 255
    rgb = read_image(write(tmp_path, f"grey-{mode}.png", image))
    for channel in range(3):
        assert np.allclose(rgb[..., channel], expected, atol=1e-6)


def test_rgba_drops_alpha_and_keeps_the_colour(tmp_path):
    blue = np.full((SIZE[1], SIZE[0]), 40, np.uint8)
    colour = np.stack([ramp(255, np.uint8), ramp(128, np.uint8), blue], -1)
    alpha = np.zeros((SIZE[1], SIZE[0], 1), np.uint8)  # fully transparent: the colour still counts
    rgb = read_image(write(tmp_path, "rgba.png", Image.fromarray(np.concatenate([colour, alpha], -1))))
    assert np.allclose(rgb, colour / 255, atol=1e-6)


def test_palette_images_take_their_palette_colours(tmp_path):
    colour = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    colour[:, : SIZE[0] // 2] = (200, 30, 60)
    colour[:, SIZE[0] // 2:] = (10, 120, 250)
    image = Image.fromarray(colour).quantize(colors=2)
    image.info["transparency"] = 0
    path = write(tmp_path, "palette.png", image)
    assert Image.open(path).mode == "P"
    assert np.allclose(read_image(path), colour / 255, atol=1e-6)


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "P", "RGBA", "L"])
def test_every_mode_makes_maps_through_the_backend(backend, maps_request, tmp_path, mode):
    if mode.startswith("I;16"):
        image, suffix = sixteen_bit(ramp(65535, np.uint16), mode), "tif" if mode == "I;16B" else "png"
    else:
        image, suffix = Image.fromarray(ramp(255, np.uint8)).convert(mode), "png"
    path = write(tmp_path, f"input-{mode.replace(';', '')}.{suffix}", image)
    final = backend.request(maps_request(image=path, maps=["normal", "albedo"]))
    assert final["type"] == "result", final
    albedo = next(file for file in final["files"] if file["role"] == "albedo")
    assert Image.open(albedo["path"]).size == SIZE
