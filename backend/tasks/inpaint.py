"""Inpaint task: repaint the masked part of a picture and keep the rest exactly.

The mask is a greyscale file (white = repaint) or, when none is named, the picture's own
alpha (transparent = repaint). ``seam_fix`` shifts the picture by half its size so its edges
meet in the middle, repaints a cross there as well, and shifts back: the result tiles.
Outside the mask the result is the input, bit for bit, at the input's depth.
"""

from __future__ import annotations

import numpy as np

from core import image_edit as rules
from core import protocol
from core.errors import TaskError

from .. import image_edit
from ..task_context import JobContext, TaskOutput


def run(request: protocol.InpaintRequest, job: JobContext) -> TaskOutput:
    """Inpaint ``request.image``; returns the new version as the ``base_color`` file."""
    image_edit.check_edit_request(request, request.strength)
    picture = image_edit.read_picture(request.image)
    mask = repaint_mask(request, picture)
    model, pipe, family, edit = image_edit.load_pipelines(job, request, "AutoPipelineForInpainting")
    settings, notes = image_edit.resolve_settings(request, pipe, family, picture.width, picture.height,
                                                  request.strength)
    job.check_cancelled()
    original = rules.half_shift(picture.pixels) if request.seam_fix else picture.pixels
    generated = image_edit.inpaint_pixels(
        job, edit, family, original.astype(np.float32) / np.float32(np.iinfo(original.dtype).max),
        image_edit.mask_image(mask), prompt=request.prompt, negative_prompt=request.negative_prompt,
        strength=request.strength, steps=settings["steps"], guidance=settings["guidance"], seed=job.seed)
    pixels = rules.composite(original, image_edit.at_depth(generated, original.dtype), mask)
    if request.seam_fix:
        pixels = rules.half_shift(pixels, back=True)
    # After the seam fix the result tiles both ways: recorded so, a later upscale wraps around it.
    parameters = image_edit.parameters_of(request, settings, job.seed, request.strength,
                                          "xy" if request.seam_fix else "off", mask=request.mask,
                                          seam_fix=request.seam_fix)
    return image_edit.finish(job, model, edit, family, pixels, parameters, notes)


def repaint_mask(request: protocol.InpaintRequest, picture: image_edit.Picture) -> np.ndarray:
    """Where to repaint (H x W, 0..1), checked, in the space the pipeline sees: the named mask or
    the picture's transparency, and with ``seam_fix`` both shifted by half and joined by the cross
    where the edges meet."""
    height, width = picture.height, picture.width
    if request.mask:
        mask = image_edit.read_mask(request.mask, height, width)
    elif picture.alpha is not None:
        mask = 1.0 - picture.alpha
    elif request.seam_fix:
        mask = np.zeros((height, width), np.float32)
    else:
        raise TaskError("bad_request", f"image {request.image!r} has no alpha channel and no mask was given",
                        hint="paint a mask (white = repaint) and name it, or make the parts to repaint "
                             "transparent")
    if request.seam_fix:
        mask = np.maximum(rules.half_shift(mask), rules.seam_cross_mask(height, width))
    try:
        rules.check_coverage(mask)
    except rules.ImageEditError as exc:
        raise image_edit.edit_error(exc) from None
    return mask
