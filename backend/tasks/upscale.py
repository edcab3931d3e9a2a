"""Upscale task: a picture made 2 or 4 times larger by tiled image-to-image with the texture model.

The picture is first enlarged with Lanczos (Pillow), then image-to-image adds the detail a plain
resize cannot. When the result fits one tile this is one call, the same as calling the
image-to-image pipeline on the resized picture. A larger result is worked on in overlapping
tiles (``core.tiles``), each one pipeline call at most ``tile`` pixels a side, blended with
smooth weights, so memory stays that of one tile whatever the result's size. On a seamless axis
the tiles wrap around the edges (the tile that crosses the edge is cut from both sides), so the
result still tiles; an axis that one tile spans whole wraps through circular padding instead.

The VAE decodes (and encodes) in tiles whenever a tile is larger than the model's native size
(``request.tile`` above it, or a one-tile result above it): the native size is what the model
and its VAE were made for, and decode memory grows with the square of the side beyond it. At
the native size and below, each call is the plain pipeline call, so a one-tile result at the
native size equals the direct image-to-image call.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from core import image_edit as rules
from core import limits, protocol
from core.errors import TaskError
from core.families import Family
from core.schema import short  # a value echoed in a message: at most 40 characters
from core.tiles import TilePlan, plan_tiles

from .. import fast_path, image_edit
from ..task_context import JobContext, TaskOutput
from . import texture
from .texture import ANY_FAMILY_MULTIPLE, check_size


def run(request: protocol.UpscaleRequest, job: JobContext) -> TaskOutput:
    """Upscale ``request.image``; returns the new version as the ``base_color`` file."""
    strength = rules.UPSCALE_STRENGTH if request.strength is None else request.strength
    width, height = check_request(request, strength)
    picture = image_edit.read_picture(request.image, limits.max_upscale_size())
    model, pipe, family, edit = image_edit.load_pipelines(job, request, "AutoPipelineForImage2Image")
    native = native_tile(request, pipe, family)
    tile = native if request.tile is None else request.tile
    check_size("tile", tile, family)
    plan = plan_for(width, height, tile, request.seamless)
    # Checked as what one call makes: a tile (or the whole result when it is smaller).
    settings, notes = image_edit.resolve_settings(request, pipe, family, plan.columns.span, plan.rows.span,
                                                  strength, request.seamless)
    job.check_cancelled()
    resized = lanczos(picture, width, height)
    vae_tiles = decodes_in_tiles(plan, native)
    generated = tiled_image_to_image(
        job, edit, family, resized, plan, request.seamless, vae_tiles, prompt=request.prompt,
        negative_prompt=request.negative_prompt, strength=strength, steps=settings["steps"],
        guidance=settings["guidance"], seed=job.seed)
    settings.update(width=width, height=height)
    parameters = image_edit.parameters_of(request, settings, job.seed, strength, request.seamless,
                                          factor=request.factor, tile=tile, tiles=len(plan.tiles))
    return image_edit.finish(job, model, edit, family, image_edit.at_depth(generated, picture.pixels.dtype),
                             parameters, notes, eager=vae_tiles)


def check_request(request: protocol.UpscaleRequest, strength: float) -> tuple[int, int]:
    """Checks that need no model: factor, strength, tile, the picture's header and the result's
    size; returns the result's (width, height)."""
    if isinstance(request.factor, bool) or request.factor not in rules.UPSCALE_FACTORS:
        raise TaskError("bad_request", f"factor must be 2 or 4, got {short(request.factor)}",
                        hint="use factor 2 or 4 (upscale twice for 8x)")
    if request.tile is not None:
        check_size("tile", request.tile)
    top = limits.max_upscale_size()
    source_width, source_height = image_edit.check_edit_request(request, strength, request.seamless, top)
    width, height = source_width * request.factor, source_height * request.factor
    if max(width, height) > top:
        raise TaskError("bad_request",
                        f"the result would be {width}x{height} pixels, above the upscale limit of {top}",
                        hint="use factor 2 or a smaller image, or raise the limit with "
                             "ATELIER_MAX_UPSCALE_SIZE (time and memory grow with the result)")
    if width % ANY_FAMILY_MULTIPLE or height % ANY_FAMILY_MULTIPLE:
        side = ANY_FAMILY_MULTIPLE // request.factor
        raise TaskError("bad_request",
                        f"the result would be {width}x{height} pixels; its sides must be multiples of "
                        f"{ANY_FAMILY_MULTIPLE}",
                        hint=f"crop or resize the image to sides that are multiples of {side} pixels "
                             f"(it is {source_width}x{source_height})")
    return width, height


def native_tile(request: protocol.UpscaleRequest, pipe, family: Family) -> int:
    """The side the model was trained at (e.g. 512 for SD-Turbo, 1024 for SDXL): the size a
    texture gets when it names none."""
    as_texture = image_edit.as_texture_request(request, seamless=request.seamless)
    return texture.resolve_settings(as_texture, pipe, family)["width"]


def plan_for(width: int, height: int, tile: int, seamless: str) -> TilePlan:
    """The tiles of a ``width`` x ``height`` result, wrapping on the seamless axes, starting on the
    latent grid (every 8 pixels, for every family) so overlapping tiles' latents line up."""
    return plan_tiles(height, width, tile, wrap_y="y" in seamless, wrap_x="x" in seamless,
                      align=ANY_FAMILY_MULTIPLE)


def lanczos(picture: image_edit.Picture, width: int, height: int) -> np.ndarray:
    """The picture enlarged to ``width`` x ``height`` by Pillow's Lanczos filter, as float32 0..1.

    8-bit colour is resized as an RGB image (what an image editor does); 16-bit colour channel
    by channel in floating point, which Pillow resizes without cutting to 8 bits.
    """
    from PIL import Image

    if picture.pixels.dtype == np.uint8:
        large = Image.fromarray(picture.pixels).resize((width, height), Image.Resampling.LANCZOS)
        return np.asarray(large).astype(np.float32) / np.float32(255)
    channels = [Image.fromarray(channel).resize((width, height), Image.Resampling.LANCZOS)
                for channel in np.moveaxis(picture.unit(), -1, 0)]
    return np.clip(np.stack([np.asarray(channel) for channel in channels], axis=-1), 0.0, 1.0)


def tiled_image_to_image(job: JobContext, edit, family: Family, image: np.ndarray, plan: TilePlan,
                         seamless: str, vae_tiles: bool, *, seed: int, **settings) -> np.ndarray:
    """Image-to-image over ``image`` (float32 H x W x 3) tile by tile; float32 H x W x 3 0..1.

    A single tile is passed on as is (the direct call). Each tile has its own seed (the job's
    seed plus its index), so no two tiles start from the same noise. With ``vae_tiles``
    (``decodes_in_tiles``) the VAE decodes each tile in tiles of its own.
    """
    tiles = plan.tiles
    padding = _whole_axes(plan, seamless)
    if len(tiles) == 1:
        with _vae_tiling(edit, vae_tiles):
            return image_edit.image_to_image_pixels(job, edit, family, image, seed=seed,
                                                    seamless=padding, **settings)
    canvas = np.zeros(image.shape, np.float32)
    with _vae_tiling(edit, vae_tiles):
        for index, tile in enumerate(tiles):
            job.check_cancelled()
            pixels = image_edit.image_to_image_pixels(
                _TileProgress(job, index, len(tiles)), edit, family, plan.cut(image, tile),
                seed=(seed + index) % (protocol.SEED_MAX + 1), seamless=padding, **settings)
            plan.add(canvas, tile, pixels)
    return np.clip(canvas, 0.0, 1.0)


def decodes_in_tiles(plan: TilePlan, native: int) -> bool:
    """Whether the VAE decodes ``plan``'s tiles in tiles of its own: tiles larger than ``native``."""
    return max(plan.rows.span, plan.columns.span) > native


def _whole_axes(plan: TilePlan, seamless: str) -> str:
    """The seamless axes that one tile spans whole: those wrap by circular padding in the model."""
    axes = "x" * ("x" in seamless and plan.columns.whole) + "y" * ("y" in seamless and plan.rows.whole)
    return axes or "off"


@contextmanager
def _vae_tiling(edit, wanted: bool):
    """Tiled VAE encode and decode while ``wanted``, set back afterwards (the VAE is the cached
    pipeline's: the next job finds it as loaded). Compiled models run their eager code meanwhile:
    a tiled decode keeps each tile's pixels while it decodes the next, and a compiled decoder's
    CUDA graph would overwrite them (its outputs live in the graph's own memory)."""
    vae = edit.vae
    before = getattr(vae, "use_tiling", False)
    if wanted and not before:
        vae.enable_tiling()
    try:
        with fast_path.eager_if(wanted):
            yield
    finally:
        if not before and getattr(vae, "use_tiling", False):
            vae.disable_tiling()


class _TileProgress:
    """The job as one tile's call sees it: its step progress becomes progress of the whole job,
    tile after tile, with the stage naming the tile."""

    def __init__(self, job: JobContext, index: int, count: int) -> None:
        self._job, self._index, self._count = job, index, count

    def progress(self, step: int, total: int, stage: str = "") -> None:
        self._job.progress(self._index * total + step, self._count * total,
                           f"tile {self._index + 1} of {self._count}")

    def __getattr__(self, name: str):
        return getattr(self._job, name)
