"""Project task: paint one view of a mesh, steered by its depth image through a depth ControlNet.

The first view (no ``image``) is ControlNet text-to-image at the control image's size. Each
later view sends the texture painted so far as seen from its camera and a mask of what is not
painted yet (white): ControlNet inpainting repaints the mask, and every pixel outside it is the
input's, bit for bit (composited after decoding, as the inpaint task does). The prompt begins
with ``core.control_models.PROJECTION_LIGHTING``: light painted into one view looks wrong
from the others.
"""

from __future__ import annotations

import numpy as np

from core import control_models, protocol
from core import image_edit as rules
from core.errors import TaskError

from .. import control_inputs, control_pipeline, image_edit
from ..task_context import JobContext, TaskOutput


def run(request: protocol.ProjectRequest, job: JobContext) -> TaskOutput:
    """Paint the view; returns it as the ``base_color`` file at the control image's size."""
    size = check(request)
    later = bool(request.image)
    pipelines = control_pipeline.load(job, request, "AutoPipelineForInpainting" if later
                                      else "AutoPipelineForText2Image")
    width, height = size
    strength = request.strength if later else 1.0
    settings, notes = image_edit.resolve_settings(request, pipelines.pipe, pipelines.family, width, height,
                                                  strength)
    control = control_inputs.read_control(request.control_image)
    prompt = control_models.projection_prompt(request.prompt)
    job.check_cancelled()
    common = dict(prompt=prompt, negative_prompt=request.negative_prompt, steps=settings["steps"],
                  guidance=settings["guidance"], seed=job.seed)
    if later:
        picture = image_edit.read_picture(request.image)
        mask = image_edit.read_mask(request.mask, height, width)
        generated = image_edit.inpaint_pixels(job, pipelines.edit, pipelines.family, picture.unit(),
                                              image_edit.mask_image(mask), strength=strength,
                                              control_image=control[None], **common)
        pixels = rules.composite(picture.pixels, image_edit.at_depth(generated, picture.pixels.dtype), mask)
    else:
        generated = control_pipeline.text_to_image_pixels(job, pipelines.edit, pipelines.family, control,
                                                          **common)
        pixels = image_edit.at_depth(generated, np.uint8)
    # The pipeline decodes after its last step check: a cancel that came meanwhile ends here.
    job.check_cancelled()
    parameters = image_edit.parameters_of(request, settings, job.seed, strength, "off", mask=request.mask,
                                          control_image=request.control_image, **pipelines.record())
    parameters["prompt"] = prompt  # the prompt the model was given, so the record remakes it
    return image_edit.finish(job, pipelines.model, pipelines.edit, pipelines.family, pixels, parameters,
                             notes)


def check(request: protocol.ProjectRequest) -> tuple[int, int]:
    """Checks that need no model; returns the view's (width, height), the control image's."""
    control_inputs.check_request(request, request.strength)
    if not request.control_image:
        raise TaskError("bad_request", "no control_image was given",
                        hint="send the view's depth image (8-bit greyscale PNG, near bright, background "
                             "black)")
    size = control_inputs.check_control_size(request.control_image)
    if bool(request.image) != bool(request.mask):
        given, missing = ("image", "mask") if request.image else ("mask", "image")
        raise TaskError("bad_request",
                        f"a later view needs both image and mask; {given} was given without {missing}",
                        hint="send neither for the first view; for a later one send the texture so far as "
                             "seen from the view (image) and what is not painted yet (mask, white)")
    if request.image:
        for field in ("image", "mask"):
            control_inputs.check_same_size(field, getattr(request, field), size)
        # Nothing to paint is the client's to skip; a mask covering the whole view is fine here.
        mask = image_edit.read_mask(request.mask, size[1], size[0])
        if not np.any(mask > 0):
            raise TaskError("bad_request",
                            f"mask {request.mask!r} is empty: this view has nothing left to paint",
                            hint="skip the view, or paint white where the view is not painted yet")
    return size
