"""Refine task: a new version of a picture by image-to-image with the texture model.

Every texture family goes through ``AutoPipelineForImage2Image`` made from the cached
text-to-image pipeline. Strength 0 < s <= 1 says how much may change (1 ignores the picture).
"""

from __future__ import annotations

from core import protocol

from .. import image_edit
from ..task_context import JobContext, TaskOutput


def run(request: protocol.RefineRequest, job: JobContext) -> TaskOutput:
    """Refine ``request.image``; returns the new version as the ``base_color`` file."""
    image_edit.check_edit_request(request, request.strength, request.seamless)
    picture = image_edit.read_picture(request.image)
    model, pipe, family, edit = image_edit.load_pipelines(job, request, "AutoPipelineForImage2Image")
    settings, notes = image_edit.resolve_settings(request, pipe, family, picture.width, picture.height,
                                                  request.strength, request.seamless)
    job.check_cancelled()
    generated = image_edit.image_to_image_pixels(
        job, edit, family, picture.unit(), prompt=request.prompt, negative_prompt=request.negative_prompt,
        strength=request.strength, steps=settings["steps"], guidance=settings["guidance"], seed=job.seed,
        seamless=request.seamless)
    parameters = image_edit.parameters_of(request, settings, job.seed, request.strength, request.seamless)
    return image_edit.finish(job, model, edit, family, image_edit.at_depth(generated, picture.pixels.dtype),
                             parameters, notes)
