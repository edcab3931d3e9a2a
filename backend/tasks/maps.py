"""Maps task: a base-colour image file becomes PBR maps, one PNG per map.

Engines (``core.maps_models``): ``classic`` (numpy filters, ``core.pbr_classic``; no weights, no
device) and ``marigold`` (``backend.maps_marigold``; the hub models, or a folder holding them).
Everything that needs no model is checked first (maps, seamless mode, steps, output folder,
model setting, the image itself), so a bad request fails before anything loads.

Files, written into the job's folder as ``<role>.png`` with the provenance record in a text
chunk: normal and albedo 8-bit RGB, height 16-bit greyscale (0.5 = the mean surface, so a bump
or displacement node needs no offset), roughness, metallic and ao 8-bit greyscale.
"""

from __future__ import annotations

import os

import numpy as np

from core import limits, maps_models, protocol
from core.errors import TaskError
from core.pbr import MAP_ROLES, MIN_MAP_SIZE, MapError, check_map_names
from core.pbr_classic import as_float_rgb, derive

from .. import image_input
from ..task_context import JobContext, TaskOutput, output_root
from .texture import write_png

# PNG sample depth per map: height needs 16 bits (8 bits make visible terraces under a bump).
SIXTEEN_BIT = ("height",)


def run(request: protocol.MapsRequest, job: JobContext) -> TaskOutput:
    """Make the maps ``request`` asks for; returns one PNG file per map, ``role`` = its name."""
    roles = check_request(request)
    model = maps_models.maps_model_setting(request.model)
    engine = maps_models.engine_of(model)
    try:
        sources = maps_models.part_sources(model) if engine == maps_models.MARIGOLD else {}
    except maps_models.MapsModelError as exc:
        raise TaskError(exc.code, exc.message, hint=exc.hint) from None
    rgb = read_image(request.image)
    job.check_cancelled()
    parameters = {"image": request.image, "maps": list(roles), "seamless": request.seamless,
                  "steps": None, "seed": request.seed}
    extra = {}
    if engine == maps_models.CLASSIC:
        job.progress(0, 1, "classic filters")
        maps = derive(rgb, roles, request.seamless)
        job.progress(1, 1, "classic filters")
    else:
        from ..maps_marigold import derive as derive_learned

        maps, steps, pipelines = derive_learned(job, sources, rgb, roles, request.seamless, request.steps)
        parameters.update(steps=steps, seed=job.seed)
        extra["pipelines"] = pipelines
    job.check_cancelled()
    record = job.provenance(engine, model, parameters, **extra)
    files = []
    for role in roles:
        path = job.job_dir() / f"{role}.png"
        write_png(map_image(role, maps[role]), path, record)
        files.append(protocol.ResultFile(role, str(path), "png"))
    return TaskOutput(files=files, metadata=record, data=parameters)


def check_request(request: protocol.MapsRequest) -> tuple[str, ...]:
    """The maps asked for, in role order, after the checks that need no model or image:
    map names, seamless mode, steps, then the output folder (created here)."""
    if not request.maps:
        raise TaskError("bad_request", "no maps were asked for",
                        hint=f"name one or more of {', '.join(MAP_ROLES)}")
    if not all(isinstance(name, str) for name in request.maps):
        raise TaskError("bad_request", "every entry of maps must be a map name (text)",
                        hint=f"use names such as {', '.join(MAP_ROLES)}")
    try:
        roles = check_map_names(request.maps)
    except MapError as exc:
        raise TaskError("bad_request", str(exc), hint="check the spelling of the map names") from None
    if request.seamless not in protocol.SEAMLESS_MODES:
        raise TaskError("bad_request", f"seamless must be one of {', '.join(protocol.SEAMLESS_MODES)}, "
                        f"got {request.seamless!r}", hint="use 'xy' for a texture that tiles both ways")
    if request.steps is not None and not 1 <= request.steps <= limits.max_steps():
        raise TaskError("bad_request",
                        f"steps must be between 1 and {limits.max_steps()}, got {request.steps}",
                        hint="leave steps empty to use the model's recommended value (1 to 4 for Marigold)")
    output_root(request.output_dir)
    return roles


def read_image(path: str) -> np.ndarray:
    """The image file ``path`` as float32 H x W x 3 in 0..1 (display values; alpha dropped),
    or a ``bad_request`` saying what is wrong with it."""
    if path.strip() and not os.path.isabs(os.path.expanduser(path)):
        raise TaskError("bad_request", f"image {path!r} is not an absolute path",
                        hint="send the image file's absolute path")
    pixels = image_input.read_pixels(path, MIN_MAP_SIZE, limits.max_size())
    try:
        return as_float_rgb(pixels)
    except MapError as exc:
        raise TaskError("bad_request", f"image {path!r} cannot be used: {exc}",
                        hint="use an ordinary PNG, JPEG or TIFF picture") from None


def map_image(role: str, values: np.ndarray):
    """A map (float32 in 0..1) as the Pillow image its PNG holds: 16-bit greyscale (``I;16``) for
    height, 8-bit RGB for normal and albedo, 8-bit greyscale for the rest."""
    from PIL import Image

    if role in SIXTEEN_BIT:
        return Image.fromarray(to_integers(values, 65535).astype(np.uint16))
    return Image.fromarray(to_integers(values, 255).astype(np.uint8))


def to_integers(values: np.ndarray, top: int) -> np.ndarray:
    """``values`` (0..1) rounded to integers 0..``top``."""
    return np.rint(np.clip(values, 0.0, 1.0) * top)
