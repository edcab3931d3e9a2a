"""Rules for making a new version of an image: strength, masks, seam fixing and compositing.

Plain numpy, so the backend (which runs the pipelines) and Blender (which refuses bad settings
before a job starts) apply the same checks with the same words.
"""

from __future__ import annotations

import math

import numpy as np

from . import limits

# Upscaling keeps the picture and adds detail: a light image-to-image pass.
UPSCALE_STRENGTH = 0.3
UPSCALE_FACTORS = (2, 4)
# The seam-fix band: about a sixteenth of the side, never thinner than this many pixels.
MIN_SEAM_BAND = 8


class ImageEditError(ValueError):
    """A setting or mask that cannot make a new version, with a ``hint`` saying what to change."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def check_strength(strength: float) -> None:
    """Refuse a strength that is not above 0 and at most 1 (0 would change nothing)."""
    if not (isinstance(strength, (int, float)) and math.isfinite(strength) and 0.0 < strength <= 1.0):
        raise ImageEditError(f"strength must be above 0 and at most 1, got {strength!r}",
                             hint="use e.g. 0.3 for small changes, 0.6 for larger ones, 1 to repaint fully")


def steps_for_strength(steps: int, strength: float, most: int | None = None) -> int:
    """The smallest step count from ``steps`` up that runs at least one denoising step.

    Diffusers runs ``int(steps * strength)`` steps of an image-to-image call; zero steps would
    return the input unchanged (or fail), which Turbo's one-step setting gives at strength < 1.
    The count is at least ``ceil(1 / strength)``; ``ImageEditError`` when that is above ``most``
    (default: ``limits.max_steps()``), since a tiny strength would need a vast number of steps.
    """
    check_strength(strength)
    most = limits.max_steps() if most is None else most
    reciprocal = 1.0 / strength  # inf for the smallest floats
    # The fewest steps that run one: 1 / strength rounded up, then moved by one where the float
    # product disagrees with the rounding (count * strength is what diffusers truncates). Far
    # beyond the limit it is not worked out: the strength is refused below.
    needed = max(math.ceil(reciprocal), 1) if reciprocal <= most + 1 else most + 1
    if needed > 1 and int((needed - 1) * strength) >= 1:
        needed -= 1
    if int(needed * strength) < 1:
        needed += 1
    if needed > most:
        count = needed if reciprocal <= most + 1 else math.ceil(reciprocal) if math.isfinite(reciprocal) \
            else "countless"
        raise ImageEditError(
            f"strength {strength:g} would need {count} denoising steps, above the limit of {most}",
            hint=f"use strength at least {math.ceil(10000 / most) / 10000:g} (1 / {most}), or raise "
                 "the limit with ATELIER_MAX_STEPS")
    return max(int(steps), needed)


def fit_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """``mask`` (H x W, 0..1) at ``height`` x ``width``: as is when it has that size, resampled
    (bilinear) when it has the same aspect ratio, else ``ImageEditError`` naming both sizes."""
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim != 2:
        raise ImageEditError(f"the mask must be one channel (height x width), got shape {mask.shape}",
                             hint="paint the mask as a greyscale image")
    mask_h, mask_w = mask.shape
    if (mask_h, mask_w) == (height, width):
        return mask
    # Same aspect when scaling the mask's width to the image's height is off by under half a pixel.
    if abs(mask_w * height / mask_h - width) >= 0.5:
        raise ImageEditError(
            f"the mask is {mask_w}x{mask_h} pixels but the image is {width}x{height}: "
            "their aspect ratios differ",
            hint=f"make the mask {width}x{height} pixels (or the same shape at another size)")
    return _resample_bilinear(mask, height, width)


def _resample_bilinear(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resampling with pixel centres aligned (as image editors scale)."""
    def positions(size_in: int, size_out: int):
        centre = (np.arange(size_out, dtype=np.float64) + 0.5) * size_in / size_out - 0.5
        centre = np.clip(centre, 0, size_in - 1)
        low = np.floor(centre).astype(int)
        high = np.minimum(low + 1, size_in - 1)
        return low, high, (centre - low).astype(np.float32)

    y0, y1, fy = positions(values.shape[0], height)
    x0, x1, fx = positions(values.shape[1], width)
    rows = values[y0] * (1 - fy)[:, None] + values[y1] * fy[:, None]
    return np.clip(rows[:, x0] * (1 - fx) + rows[:, x1] * fx, 0.0, 1.0)


def check_coverage(mask: np.ndarray) -> None:
    """Refuse a mask that repaints nothing or everything."""
    mask = np.asarray(mask)
    if not np.any(mask > 0):
        raise ImageEditError("the mask is empty: nothing to repaint",
                             hint="paint white where the image should change (black is kept)")
    if np.all(mask >= 1):
        raise ImageEditError("the mask covers the whole image",
                             hint="use refine_texture or generate a new texture to change all of it")


def half_shift(pixels: np.ndarray, back: bool = False) -> np.ndarray:
    """``pixels`` rolled by half its height and width, so the edges meet in the middle;
    ``back=True`` undoes it (also for odd sizes)."""
    height, width = pixels.shape[:2]
    shift = (-(height // 2), -(width // 2)) if back else (height // 2, width // 2)
    return np.roll(pixels, shift, axis=(0, 1))


def seam_cross_mask(height: int, width: int, band: int | None = None) -> np.ndarray:
    """1 in a band around the centre row and column (where the edges meet after ``half_shift``),
    0 elsewhere; ``band`` pixels wide, by default a sixteenth of the side and at least 8."""
    mask = np.zeros((height, width), dtype=np.float32)
    for axis, size in ((0, height), (1, width)):
        wide = min(band if band is not None else max(size // 16, MIN_SEAM_BAND), size)
        start = size // 2 - wide // 2
        if axis == 0:
            mask[start:start + wide, :] = 1.0
        else:
            mask[:, start:start + wide] = 1.0
    return mask


def composite(original: np.ndarray, generated: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``original`` where ``mask`` is 0, ``generated`` where it is 1, a linear blend between.

    The result has ``original``'s dtype: uint8, uint16 or float (0..1). ``generated`` may be of
    any of these depths (it is converted); masked-out pixels are copied, never recomputed, so
    they equal the input bit for bit.
    """
    original = np.asarray(original)
    generated = _as_depth(np.asarray(generated), original.dtype)
    if generated.shape != original.shape:
        raise ImageEditError(f"the new pixels are {generated.shape} but the image is {original.shape}")
    mask = np.asarray(mask, dtype=np.float32)
    weight = mask[..., None] if original.ndim == 3 else mask
    blended = original.astype(np.float64) * (1 - weight) + generated.astype(np.float64) * weight
    if np.issubdtype(original.dtype, np.integer):
        blended = np.clip(np.rint(blended), 0, np.iinfo(original.dtype).max)
    result = blended.astype(original.dtype)
    keep = np.broadcast_to(weight <= 0, original.shape)
    take = np.broadcast_to(weight >= 1, original.shape)
    result[keep] = original[keep]
    result[take] = generated[take]
    return result


def _as_depth(pixels: np.ndarray, dtype) -> np.ndarray:
    """``pixels`` scaled to ``dtype``'s range (integer: 0..max; float: 0..1)."""
    if pixels.dtype == dtype:
        return pixels
    unit = _unit(pixels)
    if np.issubdtype(dtype, np.integer):
        top = np.iinfo(dtype).max
        return np.clip(np.rint(unit * top), 0, top).astype(dtype)
    return unit.astype(dtype)


def _unit(pixels: np.ndarray) -> np.ndarray:
    if np.issubdtype(pixels.dtype, np.integer):
        return pixels.astype(np.float64) / np.iinfo(pixels.dtype).max
    return pixels.astype(np.float64)
