"""What the refine, inpaint and upscale tasks share: the edit pipelines, reading the picture and
its mask, running image-to-image and inpainting, and writing the new version with its record.

The edit pipelines come from the cached text-to-image pipeline through ``from_pipe``, so they
share its weights: no second copy in memory, and no second load. The picture keeps its depth:
an 8-bit file gives an 8-bit result, a 16-bit file a 16-bit one (Pillow reads and writes 16-bit
colour only as greyscale, so colour goes through ``read_picture`` / ``write_picture``).
"""

from __future__ import annotations

import inspect
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import image_edit, limits, protocol
from core.errors import TaskError
from core.families import Family

from . import fast_path, pipeline_setup, prompt_cache, setup_notes, vae_precision
from .image_input import DEEP_GREY, opened, read_pixels
from .models import texture_model_setting
from .output_files import write_file
from .task_context import JobContext, TaskOutput
from .tasks import texture

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Picture:
    """An image file's colour (H x W x 3, uint8 or uint16) and alpha (H x W, 0..1, or None)."""

    pixels: np.ndarray
    alpha: np.ndarray | None

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    def unit(self) -> np.ndarray:
        """The colour as float32 0..1 (what the pipelines' image processors take)."""
        return self.pixels.astype(np.float32) / np.float32(np.iinfo(self.pixels.dtype).max)


def edit_error(exc: image_edit.ImageEditError) -> TaskError:
    """A rule of ``core.image_edit`` broken by the request, as the protocol's ``bad_request``."""
    return TaskError("bad_request", exc.message, hint=exc.hint)


def checked_steps(steps: int | None, strength: float) -> int:
    """``core.image_edit.steps_for_strength`` (``steps`` None: one) reported as a ``TaskError``:
    a strength out of range, or so small that one denoising step needs more than the step limit."""
    try:
        return image_edit.steps_for_strength(steps or 1, strength)
    except image_edit.ImageEditError as exc:
        raise edit_error(exc) from None


def as_texture_request(request: protocol.ImageEditRequest, width: int | None = None,
                       height: int | None = None, seamless: str = "off") -> protocol.TextureRequest:
    """The texture settings an edit stands for, so the texture task's checks and recommended
    settings apply unchanged. An edit may have no prompt (the picture leads), which the texture
    checks would refuse, so a blank prompt is checked as a placeholder."""
    return protocol.TextureRequest(
        id=request.id, prompt=request.prompt if request.prompt.strip() else "(the picture)",
        negative_prompt=request.negative_prompt, width=width, height=height, steps=request.steps,
        guidance=request.guidance, seed=request.seed, seamless=seamless, output_dir=request.output_dir)


def check_edit_request(request: protocol.ImageEditRequest, strength: float, seamless: str = "off",
                       max_side: int | None = None) -> tuple[int, int]:
    """Checks that need no model; returns the picture's (width, height) read from its header.

    ``max_side`` is the largest picture side accepted (default: the size limit)."""
    checked_steps(request.steps, strength)
    texture.check_request(as_texture_request(request, seamless=seamless))
    with opened(request.image, limits.MIN_SIZE, max_side or limits.max_size()) as image:
        return image.width, image.height


def load_pipelines(job: JobContext, request: protocol.ImageEditRequest, auto_class_name: str):
    """The cached text-to-image pipeline, its family and the edit pipeline made from it
    (``auto_class_name``: 'AutoPipelineForImage2Image' or 'AutoPipelineForInpainting')."""
    model, pipe, family = load_texture_pipeline(job, request)
    return model, pipe, family, pipeline_from(pipe, auto_class_name)


def load_texture_pipeline(job: JobContext, request: protocol.ImageEditRequest):
    """The texture model's name, its cached text-to-image pipeline and its family."""
    import torch

    model = texture_model_setting(request.model)
    pipeline_setup.check(job.device)  # a bad setting fails here, before any model loads
    try:
        pipe = job.load("texture", model, texture.load_pipeline)
    except torch.OutOfMemoryError as exc:
        raise texture.out_of_memory(f"loading {model} on {job.device}", exc) from None
    return model, pipe, texture.family_of(pipe, model)


def pipeline_from(pipe, auto_class_name: str, **components):
    """The pipeline of diffusers' ``auto_class_name`` made from ``pipe`` (sharing its weights),
    with ``components`` added (e.g. ``controlnet``: the class becomes its ControlNet variant).
    It runs ``pipe``'s quantised, fused or compiled models, so it carries ``pipe``'s setup notes
    for its results' records."""
    import diffusers

    made = getattr(diffusers, auto_class_name).from_pipe(pipe, **components)
    made.set_progress_bar_config(disable=True)
    setup_notes.copy(pipe, made)
    return made


def resolve_settings(request: protocol.ImageEditRequest, pipe, family: Family, width: int, height: int,
                     strength: float, seamless: str = "off") -> tuple[dict, list[str]]:
    """Steps and guidance (the request's or the family's), the picture's size checked against
    the family, and the notes on what was changed: steps are raised when steps x strength would
    run no denoising step (Turbo's one step at strength below 1)."""
    settings = texture.resolve_settings(as_texture_request(request, width, height, seamless), pipe, family)
    notes = []
    steps = checked_steps(settings["steps"], strength)
    if steps != settings["steps"]:
        notes.append(f"steps raised from {settings['steps']} to {steps} so that strength {strength:g} "
                     f"runs {int(steps * strength)} denoising step{'s' * (int(steps * strength) != 1)}")
        settings["steps"] = steps
    return settings, notes


def image_to_image_pixels(job: JobContext, edit, family: Family, image, *, prompt: str, negative_prompt: str,
                          strength: float, steps: int, guidance: float, seed: int,
                          seamless: str = "off", **control) -> np.ndarray:
    """One image-to-image call: ``image`` (PIL image or float H x W x 3 array, 0..1) through the
    image-to-image pipeline ``edit``; returns float32 H x W x 3 in 0..1 at the image's size.
    ``control``: ``control_image=...`` for a ControlNet pipeline."""
    return _call(job, edit, family, image, prompt=prompt, negative_prompt=negative_prompt,
                 strength=strength, steps=steps, guidance=guidance, seed=seed, seamless=seamless, **control)


def inpaint_pixels(job: JobContext, edit, family: Family, image, mask, *, prompt: str, negative_prompt: str,
                   strength: float, steps: int, guidance: float, seed: int, **control) -> np.ndarray:
    """One inpainting call: ``image`` repainted where ``mask`` (a greyscale PIL image, white =
    repaint) is set; returns the pipeline's float32 H x W x 3 in 0..1 (all of it, unmixed).
    ``control``: ``control_image=...`` for a ControlNet pipeline."""
    return _call(job, edit, family, image, mask_image=mask, prompt=prompt, negative_prompt=negative_prompt,
                 strength=strength, steps=steps, guidance=guidance, seed=seed, seamless="off", **control)


def _call(job, edit, family, image, *, prompt, negative_prompt, strength, steps, guidance, seed, seamless,
          **extra) -> np.ndarray:
    import torch

    from .seamless import seamless_tiling

    if isinstance(image, np.ndarray):
        height, width = image.shape[:2]
        image = image[None]  # diffusers reads a numpy array as a batch
    else:
        width, height = image.size
    options = dict(extra)
    if family.negative_prompt:
        options["negative_prompt"] = negative_prompt or None  # None: SDXL zeroes a missing one
    if family.max_sequence_length:
        options["max_sequence_length"] = family.max_sequence_length
    if "width" in inspect.signature(edit.__call__).parameters:
        # FLUX makes 1024 px unless told; SD's image-to-image takes the size from the image.
        options.update(width=width, height=height)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    on_step_end = texture.progress_callback(job, max(int(steps * strength), 1))
    prompt_cache.install(edit)  # again at every call: CPU offload's hooks drop it after each one
    try:
        # Seamless tiling patches the models: compiled code would compile again at every call.
        # vae_precision.kept: SDXL's ControlNet inpainting leaves the VAE float32 after its decode.
        with vae_precision.kept(edit), seamless_tiling(edit, seamless), fast_path.eager_if(seamless != "off"):
            return edit(prompt=prompt, image=image, strength=strength, num_inference_steps=steps,
                        guidance_scale=guidance, generator=generator, output_type="np",
                        callback_on_step_end=on_step_end, **options).images[0]
    except torch.OutOfMemoryError as exc:
        raise texture.out_of_memory(f"editing a {width}x{height} image on {job.device}", exc) from None


# ------------------------------------------------------------------------- reading and writing


def read_picture(path: str, max_side: int | None = None) -> Picture:
    """The picture file ``path`` at its depth: 16-bit PNGs stay 16-bit, everything else is 8-bit;
    greyscale becomes RGB; alpha is kept apart (None when the file has none)."""
    with opened(path, limits.MIN_SIZE, max_side or limits.max_size()) as image:
        rawmode = _rawmode(image)
        if rawmode.endswith("16B") and image.mode in ("RGB", "RGBA"):
            high, low = (_decoded(path, rawmode.replace("16B", half)) for half in ("16B", "16L"))
            values = high * 256 + low
        else:
            image.load()
            has_alpha = "A" in image.mode or "transparency" in image.info
            if image.mode in DEEP_GREY:
                grey = read_pixels(path, limits.MIN_SIZE, max_side or limits.max_size())
                values = _grey_to_sixteen(grey)
            else:
                values = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    if values.shape[-1] == 4:
        top = np.float32(np.iinfo(values.dtype).max)
        return Picture(np.ascontiguousarray(values[..., :3]), values[..., 3].astype(np.float32) / top)
    return Picture(np.ascontiguousarray(values), None)


def _rawmode(image) -> str:
    tile = image.tile[0] if image.format == "PNG" and image.tile else None
    args = tile.args if tile else ""
    return args if isinstance(args, str) else (args[0] if args else "")


def _decoded(path: str, rawmode: str) -> np.ndarray:
    """The file decoded with ``rawmode``: '...;16B' keeps each sample's high byte, '...;16L' its low
    one (Pillow decodes 16-bit colour to 8 bits only; both halves together are the full value)."""
    from PIL import Image

    with Image.open(path) as image:
        image.tile = [tile._replace(args=rawmode if isinstance(tile.args, str) else (rawmode, *tile.args[1:]))
                      for tile in image.tile]
        image.load()
        return np.asarray(image).astype(np.uint16)


def _grey_to_sixteen(grey: np.ndarray) -> np.ndarray:
    if grey.dtype == np.float32:  # a floating-point image, 0..1
        grey = np.rint(np.clip(grey, 0, 1) * 65535).astype(np.uint16)
    return np.repeat(grey[..., None], 3, axis=-1)


def read_mask(path: str, height: int, width: int) -> np.ndarray:
    """The mask file ``path`` as H x W floats 0..1 (white = repaint) fitted to the picture
    (``core.image_edit.fit_mask``); a colour mask counts by its luminance."""
    with opened(path, 1, None) as image:
        image.load()
        if image.mode in DEEP_GREY:
            values = read_pixels(path, 1, max(image.size))
            mask = values.astype(np.float32) / (65535.0 if values.dtype == np.uint16 else 1.0)
        else:
            mask = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    try:
        return image_edit.fit_mask(np.clip(mask, 0.0, 1.0), height, width)
    except image_edit.ImageEditError as exc:
        raise edit_error(exc) from None


def mask_image(mask: np.ndarray):
    """A 0..1 mask as the greyscale PIL image the inpainting pipelines take."""
    from PIL import Image

    return Image.fromarray(np.rint(np.clip(mask, 0, 1) * 255).astype(np.uint8), mode="L")


def at_depth(generated: np.ndarray, dtype) -> np.ndarray:
    """A pipeline's float output at the picture's depth: 8-bit rounded exactly as diffusers rounds
    its PIL output, 16-bit to the nearest of 65536 levels."""
    if dtype == np.uint8:
        from diffusers.image_processor import VaeImageProcessor

        return np.asarray(VaeImageProcessor.numpy_to_pil(generated[None])[0])
    return np.rint(np.clip(generated, 0, 1) * 65535).astype(np.uint16)


def write_picture(pixels: np.ndarray, path: Path, record: dict) -> None:
    """Save H x W x 3 ``pixels`` (uint8 or uint16) as a PNG of that depth with the provenance chunk."""
    if pixels.dtype == np.uint8:
        from PIL import Image

        texture.write_png(Image.fromarray(pixels, mode="RGB"), path, record)
        return
    import json

    height, width = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels.astype(">u2")).view(np.uint8).reshape(height, width * 6)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 a row
    text = texture.PNG_PROVENANCE_KEY.encode("latin-1") + b"\0\0\0\0\0" + json.dumps(
        record, ensure_ascii=False, sort_keys=True).encode("utf-8")
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
    write_file(path, _PNG_SIGNATURE + header + _chunk(b"iTXt", text) + _chunk(b"IDAT", zlib.compress(raw, 6))
               + _chunk(b"IEND", b""))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def finish(job: JobContext, model: str, pipe, family: Family, pixels: np.ndarray, parameters: dict,
           notes: list[str], eager: bool = False) -> TaskOutput:
    """The new version written as ``base_color.png`` with its record; the result data holds the
    parameters and the notes on what the backend changed. The record says what ``pipe`` (the
    edit pipeline that ran) was set up with; a seamless edit ran eager, and so did one that says
    ``eager``."""
    eager = eager or parameters.get("seamless", "off") != "off"
    record = job.provenance(
        "diffusers", model, parameters, pipeline=type(pipe).__name__, family=family.name,
        scheduler=texture.scheduler_record(pipe), optimisations=fast_path.optimisations(pipe, eager=eager),
        notes=list(notes),
    )
    path = job.job_dir() / "base_color.png"
    write_picture(pixels, path, record)
    return TaskOutput(files=[protocol.ResultFile("base_color", str(path), "png")], metadata=record,
                      data={**parameters, "notes": list(notes)})


def parameters_of(request: protocol.ImageEditRequest, settings: dict, seed: int, strength: float,
                  seamless: str, **extra) -> dict:
    """The record of an edit: the texture fields, then what only edits have."""
    return {"prompt": request.prompt, "negative_prompt": request.negative_prompt,
            "width": settings["width"], "height": settings["height"], "steps": settings["steps"],
            "guidance": settings["guidance"], "seed": seed, "seamless": seamless, "strength": strength,
            "style": request.style, "image": request.image, **extra}
