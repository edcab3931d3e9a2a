"""Restyle task: a new version of a render that keeps its structure.

With a depth image (``control_image``) the render goes through ControlNet image-to-image, so
shapes stay where they are even at a high strength; without one it is plain image-to-image
with the texture model, as the refine task does.
"""

from __future__ import annotations

from core import protocol
from core.errors import TaskError

from .. import control_inputs, control_pipeline, image_edit
from ..task_context import JobContext, TaskOutput


def run(request: protocol.RestyleRequest, job: JobContext) -> TaskOutput:
    """Restyle ``request.image``; returns the new version as the ``base_color`` file."""
    width, height = check(request)
    picture = image_edit.read_picture(request.image)
    if request.control_image:
        pipelines = control_pipeline.load(job, request, "AutoPipelineForImage2Image")
        model, pipe, family, edit = pipelines.model, pipelines.pipe, pipelines.family, pipelines.edit
        control = {"control_image": control_inputs.read_control(request.control_image)[None]}
        record = pipelines.record()
    else:
        model, pipe, family, edit = image_edit.load_pipelines(job, request, "AutoPipelineForImage2Image")
        control, record = {}, control_pipeline.NO_CONTROL_RECORD
    settings, notes = image_edit.resolve_settings(request, pipe, family, width, height, request.strength)
    job.check_cancelled()
    generated = image_edit.image_to_image_pixels(
        job, edit, family, picture.unit(), prompt=request.prompt, negative_prompt=request.negative_prompt,
        strength=request.strength, steps=settings["steps"], guidance=settings["guidance"], seed=job.seed,
        **control)
    job.check_cancelled()
    parameters = image_edit.parameters_of(request, settings, job.seed, request.strength, "off",
                                          control_image=request.control_image, **record)
    return image_edit.finish(job, model, edit, family, image_edit.at_depth(generated, picture.pixels.dtype),
                             parameters, notes)


def check(request: protocol.RestyleRequest) -> tuple[int, int]:
    """Checks that need no model; returns the render's (width, height)."""
    control_inputs.check_request(request, request.strength)
    if not request.image:
        raise TaskError("bad_request", "no image was given", hint="send the render to restyle as a PNG")
    if not request.control_image:
        return control_inputs.size_of("image", request.image)
    size = control_inputs.check_control_size(request.control_image)
    control_inputs.check_same_size("image", request.image, size)
    return size
