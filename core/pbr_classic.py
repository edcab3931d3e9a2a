"""The classic maps engine: PBR maps from a colour texture with numpy filters, no weights.

It runs in the backend and inside Blender (which bundles numpy), so it uses numpy alone.

- Height: luminance slopes between neighbouring pixels are softly limited (a step between two
  flat colours becomes no steeper than fine detail, so colour edges are no cliffs), integrated
  back and split into octave bands (differences of Gaussian blurs at 1, 2, 4, ... px), all in
  one FFT filter. The bands are weighted by the square root of their scale: larger features
  sit deeper, while each octave's slope (what the normal map shows) falls with scale; what is
  coarser than the largest band (lighting gradients, big colour patches) is dropped. Dark reads
  deep (crevices are in shadow); 0.5 is the mean surface.
- Normals: central differences of the height, in tangent space, OpenGL convention (+X right,
  +Y toward the top of the picture, +Z out of the surface).
- Ambient occlusion: how far each point lies below the mean height around it, at several
  radii, read as the sine of the horizon's elevation.
- Roughness: local contrast of fine luminance detail (grainy surfaces are rough), plus cavities.
- Metallic: 0. Colour alone cannot tell metal from paint, and most textures are dielectric.
- Albedo: the input colour.

Every filter wraps on the axes the texture tiles along (``seamless``), so a seamless texture
gives seamless maps; on other axes the image is mirrored at its edges instead.
"""

from __future__ import annotations

import math

import numpy as np

from .pbr import MAP_ROLES, MapError, check_image_size, check_map_names
from .protocol import SEAMLESS_MODES

# Rec. 709 luma weights, applied to display-encoded values: crevices read dark as the eye sees
# them, and shadows keep their spread instead of being squeezed near zero in linear light.
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
# The coarsest octave band and occlusion radius, as a fraction of the shorter side (32 px on a
# 1024 px texture, so a texture reads the same at any resolution): coarser variation is
# lighting or colour, not relief.
COARSEST_SCALE = 1 / 32
# The steepest luminance step between neighbouring pixels that height follows as it is: fine
# detail stays below it, while a step between two flat colours is softly limited to about this.
GRADIENT_LIMIT = 0.05
# Height spans the texture's own relief: its highest or deepest point reaches the end of 0..1,
# so every texture uses the range alike. But never less relief than this (luminance units,
# after the bands are weighted), so a nearly flat picture (a plain wall, compression noise)
# stays nearly flat instead of being amplified.
MIN_RELIEF_SPAN = 0.1
# How deep the full 0..1 height range is, as a fraction of the image's shorter side. Normals
# and roughness (cavities) use it to turn height into pixels; 1/128 puts typical slopes of stone, brick and
# wood textures at 10-25 degrees. Blender's Normal Map strength adjusts it further.
RELIEF_DEPTH = 1 / 128
# The same for occlusion, deeper: height read from luminance is shallowest in crevices (a dark
# joint holds little detail), while the eye reads a joint as about as deep as it is wide.
OCCLUSION_DEPTH = 1 / 32
# The finest radius (px) at which occlusion compares a point with its surroundings; a 1 px
# neighbourhood is grain, not a cavity.
FINEST_AO_RADIUS = 2
# Roughness = ROUGHNESS_BASE + ROUGHNESS_SPAN * grain + CAVITY_ROUGHNESS * cavity, each in 0..1.
ROUGHNESS_BASE = 0.4
ROUGHNESS_SPAN = 0.45
CAVITY_ROUGHNESS = 0.15
# Local luminance contrast at which grain counts half (0.5): fine, faint noise is smooth.
GRAIN_CONTRAST = 0.04
# Radius (px) of the neighbourhood whose contrast and cavities set a pixel's roughness.
GRAIN_RADIUS = 4
# The mirrored margin, in sigmas of the largest blur: the Gaussian's weight beyond it (0.13 %)
# is all that the far side of the picture can leak into an edge pixel.
TAIL_SIGMAS = 3


def derive(rgb, maps=MAP_ROLES, seamless: str = "off") -> dict[str, np.ndarray]:
    """The requested maps of a colour texture, as float32 arrays in 0..1 keyed by role.

    ``rgb`` is an image array (H x W, H x W x 1..4; uint8, uint16 or float; display sRGB; alpha
    ignored). ``seamless`` ("off", "x", "y", "xy") names the axes the texture tiles along.
    Raises ``MapError`` for an unknown map, an unknown seamless mode or an unusable image.
    """
    roles = check_map_names(maps)
    wrap_x, wrap_y = seamless_axes(seamless)
    color = as_float_rgb(rgb)
    made: dict[str, np.ndarray] = {}
    height = height_from_color(color, wrap_x, wrap_y) if set(roles) - {"metallic", "albedo"} else None
    for role in roles:
        if role == "normal":
            strength = relief_depth_px(height.shape)
            made[role] = encode_normals(normals_from_height(height, wrap_x, wrap_y, strength))
        elif role == "height":
            made[role] = height
        elif role == "roughness":
            made[role] = roughness_from_color(color, height, wrap_x, wrap_y)
        elif role == "metallic":
            made[role] = metallic_from_color(color)
        elif role == "ao":
            made[role] = ao_from_height(height, wrap_x, wrap_y)
        else:
            made[role] = color
    return made


def seamless_axes(seamless: str) -> tuple[bool, bool]:
    """(wrap_x, wrap_y) for a seamless mode; ``MapError`` for an unknown one."""
    if seamless not in SEAMLESS_MODES:
        raise MapError(f"unknown seamless mode {seamless!r}; use one of {', '.join(SEAMLESS_MODES)}")
    return "x" in seamless, "y" in seamless


def as_float_rgb(image) -> np.ndarray:
    """An image array as float32 H x W x 3 in 0..1.

    Greyscale (H x W or one channel) is repeated to three channels; alpha (a second or fourth
    channel) is dropped; integers are divided by their type's maximum (255 for uint8, 65535
    for uint16); floats are clipped to 0..1. Raises ``MapError`` for another shape, values
    that are not numbers, or an image smaller than ``MIN_MAP_SIZE`` on a side.
    """
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or not 1 <= array.shape[2] <= 4:
        raise MapError(f"an image array of shape {array.shape} is not a picture; pass H x W "
                       "(greyscale) or H x W x 3 or 4 (RGB, RGBA)")
    check_image_size(array.shape[0], array.shape[1])
    colour = array[:, :, :1] if array.shape[2] < 3 else array[:, :, :3]
    if colour.dtype in (np.uint8, np.uint16):
        floats = colour.astype(np.float32) / np.iinfo(colour.dtype).max
    elif colour.dtype == np.bool_:
        floats = colour.astype(np.float32)
    elif np.issubdtype(colour.dtype, np.floating):
        if not np.isfinite(colour).all():
            raise MapError("the image has pixels that are not numbers (NaN or infinity)")
        floats = np.clip(colour.astype(np.float32), 0.0, 1.0)
    else:
        # Wider integers say nothing about their range (Pillow reads 16-bit PNGs as int32).
        raise MapError(f"image pixels of type {colour.dtype} are not supported; pass uint8, "
                       "uint16 or float 0..1")
    return np.ascontiguousarray(np.broadcast_to(floats, (*floats.shape[:2], 3)), dtype=np.float32)


def relief_depth_px(shape: tuple[int, ...]) -> float:
    """How many pixels deep the full 0..1 height range is for an image of this shape."""
    return min(shape[0], shape[1]) * RELIEF_DEPTH


def height_from_color(rgb, wrap_x: bool = False, wrap_y: bool = False) -> np.ndarray:
    """Height (H x W float32, 0..1, mean exactly 0.5) from a colour texture's luminance."""
    luma = _luma(as_float_rgb(rgb))
    scales = _octaves(luma.shape, 1)
    domain = _Domain(luma.shape, wrap_x, wrap_y, TAIL_SIGMAS * scales[-1])
    extended = domain.extend(luma)
    # Luminance slopes between neighbours, each softly limited to GRADIENT_LIMIT: a colour edge
    # keeps its place and direction but becomes no steeper than the steepest fine detail.
    slope_x = np.roll(extended, -1, axis=1) - extended
    slope_y = np.roll(extended, -1, axis=0) - extended
    limit = 1.0 / np.sqrt(1.0 + (slope_x**2 + slope_y**2) / GRADIENT_LIMIT**2)
    slope_x *= limit
    slope_y *= limit
    divergence = slope_x - np.roll(slope_x, 1, axis=1) + slope_y - np.roll(slope_y, 1, axis=0)
    # Integrate the slopes back (divide by the discrete Laplacian) and weight the octave bands,
    # both in one transfer function: for unlimited slopes this is exactly the weighted sum of
    # band-passed luminance.
    laplacian = domain.laplacian()
    bands = np.zeros_like(laplacian)
    finer = 1.0
    for scale in scales:
        coarser = domain.gaussian(scale)
        bands += math.sqrt(scale) * (finer - coarser)
        finer = coarser
    laplacian[0, 0] = 1.0  # the mean (frequency 0) is in no band: bands[0, 0] is 0
    relief = domain.filter(np.fft.rfft2(divergence), bands / laplacian)
    centred = relief - relief.mean(dtype=np.float64)
    span = max(float(np.abs(centred).max()), MIN_RELIEF_SPAN)
    return (0.5 + 0.5 * centred / span).astype(np.float32)


def normals_from_height(height, wrap_x: bool = False, wrap_y: bool = False,
                        strength: float = 1.0) -> np.ndarray:
    """Unit tangent-space normals (H x W x 3 float32; OpenGL: +Y toward the top of the picture)
    of a height field whose values times ``strength`` are pixels.

    Central differences; on an axis that does not wrap, the first and last pixels use
    one-sided differences.
    """
    field = _check_field(height) * np.float32(strength)
    slope_x = _central_difference(field, axis=1, wrap=wrap_x)
    # Rows run top to bottom, +Y runs up: the slope toward +Y is minus the slope down the rows.
    slope_up = -_central_difference(field, axis=0, wrap=wrap_y)
    normals = np.stack([-slope_x, -slope_up, np.ones_like(field)], axis=-1)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    return normals


def encode_normals(unit) -> np.ndarray:
    """Unit normals (-1..1) as normal-map colours (0..1): n * 0.5 + 0.5."""
    return (np.asarray(unit, dtype=np.float32) * 0.5 + 0.5).astype(np.float32)


def ao_from_height(height, wrap_x: bool = False, wrap_y: bool = False) -> np.ndarray:
    """Ambient occlusion (H x W float32, 1 = open sky) of a 0..1 height map.

    At each radius r, a point lying d pixels below the mean height around it sees its horizon
    raised by atan(d / r); the sine of that angle is the sky it loses there. The average over
    the radii is subtracted from 1, so a flat map gives exactly 1.
    """
    field = _check_field(height)
    depth = min(field.shape) * OCCLUSION_DEPTH
    radii = _octaves(field.shape, FINEST_AO_RADIUS)
    domain = _Domain(field.shape, wrap_x, wrap_y, TAIL_SIGMAS * radii[-1])
    lost = np.zeros_like(field)
    for radius, surroundings in zip(radii, domain.blurs(field, radii), strict=True):
        below = np.maximum(surroundings - field, 0.0) * depth
        lost += below / np.sqrt(below * below + radius * radius)
    return (1.0 - lost / len(radii)).astype(np.float32)


def roughness_from_color(rgb, height, wrap_x: bool = False, wrap_y: bool = False) -> np.ndarray:
    """Roughness (H x W float32, 0..1) from the local contrast of fine luminance detail
    (grain makes a surface rough) and from cavities of the height map (dirt gathers there)."""
    luma = _luma(as_float_rgb(rgb))
    field = _check_field(height)
    domain = _Domain(field.shape, wrap_x, wrap_y, TAIL_SIGMAS * GRAIN_RADIUS)
    (smooth,) = domain.blurs(luma, [1])
    detail = luma - smooth
    (variance,) = domain.blurs(detail * detail, [GRAIN_RADIUS])
    contrast = np.sqrt(np.maximum(variance, 0.0))
    grain = contrast / (contrast + GRAIN_CONTRAST)
    (surroundings,) = domain.blurs(field, [GRAIN_RADIUS])
    cavity_depth = (surroundings - field) * relief_depth_px(field.shape)
    cavity = np.clip(cavity_depth, 0.0, 1.0)
    roughness = ROUGHNESS_BASE + ROUGHNESS_SPAN * grain + CAVITY_ROUGHNESS * cavity
    return np.clip(roughness, 0.0, 1.0).astype(np.float32)


def metallic_from_color(rgb) -> np.ndarray:
    """Metallic (H x W float32): 0 everywhere. Colour alone cannot tell metal from paint, and
    stone, wood, brick, fabric and most other textures are dielectric."""
    color = as_float_rgb(rgb)
    return np.zeros(color.shape[:2], dtype=np.float32)


def _luma(color: np.ndarray) -> np.ndarray:
    return color @ LUMA_WEIGHTS


def _check_field(height) -> np.ndarray:
    field = np.asarray(height, dtype=np.float32)
    if field.ndim != 2:
        raise MapError(f"a height map must be H x W; got shape {field.shape}")
    check_image_size(*field.shape)
    return field


def _octaves(shape: tuple[int, ...], finest: int) -> list[int]:
    """Octave scales in pixels, ``finest``, 2 * finest, ... up to COARSEST_SCALE of the shorter
    side; at least ``finest`` itself on a small image."""
    coarsest = min(shape[0], shape[1]) * COARSEST_SCALE
    scales = [finest]
    while scales[-1] * 2 <= coarsest:
        scales.append(scales[-1] * 2)
    return scales


def _central_difference(field: np.ndarray, axis: int, wrap: bool) -> np.ndarray:
    if wrap:
        return (np.roll(field, -1, axis=axis) - np.roll(field, 1, axis=axis)) * 0.5
    return np.gradient(field, axis=axis, edge_order=1)


class _Domain:
    """A periodic domain for FFT filters over an image of ``shape``.

    An FFT filter wraps by nature: exactly right on the axes that tile. On the others the image
    is mirrored outward by ``margin`` pixels (then up to a length with fast FFTs), so pixels near
    an edge see a continuation of the picture rather than its far side; results are cropped
    back to ``shape``.
    """

    def __init__(self, shape: tuple[int, int], wrap_x: bool, wrap_y: bool, margin: float) -> None:
        self.shape = shape
        self.pads = []
        for size, wrap in zip(shape, (wrap_y, wrap_x), strict=True):
            total = 0 if wrap else _fast_length(size + 2 * math.ceil(margin)) - size
            self.pads.append((total // 2, total - total // 2))
        self.padded_shape = tuple(size + sum(pad) for size, pad in zip(shape, self.pads, strict=True))
        self.freq_y = np.fft.fftfreq(self.padded_shape[0])[:, None]
        self.freq_x = np.fft.rfftfreq(self.padded_shape[1])[None, :]

    def extend(self, image: np.ndarray) -> np.ndarray:
        """The image mirrored outward on the axes that do not wrap."""
        return np.pad(image, self.pads, mode="reflect") if any(map(sum, self.pads)) else image

    def gaussian(self, sigma: float) -> np.ndarray:
        """The transfer function of a Gaussian blur of ``sigma`` pixels."""
        spread = -2.0 * (math.pi * sigma) ** 2
        return np.exp(spread * self.freq_y**2) * np.exp(spread * self.freq_x**2)

    def laplacian(self) -> np.ndarray:
        """The transfer function of the discrete 5-point Laplacian (0 at frequency 0)."""
        return -4.0 * (np.sin(math.pi * self.freq_y) ** 2 + np.sin(math.pi * self.freq_x) ** 2)

    def filter(self, spectrum: np.ndarray, transfer: np.ndarray) -> np.ndarray:
        """The extended image with this ``spectrum`` filtered by ``transfer``, cropped back to
        the image, float32."""
        filtered = np.fft.irfft2(spectrum * transfer, s=self.padded_shape)
        (top, _), (left, _) = self.pads
        return filtered[top:top + self.shape[0], left:left + self.shape[1]].astype(np.float32)

    def blurs(self, image: np.ndarray, sigmas) -> list[np.ndarray]:
        """``image`` blurred by a Gaussian of each of ``sigmas`` pixels (one forward FFT)."""
        spectrum = np.fft.rfft2(self.extend(image))
        return [self.filter(spectrum, self.gaussian(sigma)) for sigma in sigmas]


def _fast_length(size: int) -> int:
    """The smallest length >= size whose only prime factors are 2, 3 and 5 (fast FFTs)."""
    length = size
    while True:
        rest = length
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return length
        length += 1
