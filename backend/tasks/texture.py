"""Texture task: a prompt becomes a PNG through a diffusers text-to-image pipeline.

Covers Stable Diffusion 1.x/2.x, SD-Turbo, SDXL, SDXL-Turbo and FLUX through
``AutoPipelineForText2Image``. Values the request leaves out come from the model family's
recommended settings. Every PNG carries the provenance record in a text chunk, so the file
alone says how to make it again. A preview (``preview: true``) is no record: it is handed over
as raw RGBA bytes (``preview.rgba``), the cheapest form for Blender to load, and no PNG is
written. ``tiny_autoencoder: true`` decodes with the family's tiny autoencoder when it is there.
``early_pixels: true`` hands a full texture's pixels over the same raw way (an ``image`` event)
before the PNG is encoded, which then follows as always.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from core import limits, protocol
from core.errors import TaskError, first_line
from core.families import FAMILIES, Family
from core.schema import short  # a value echoed in a message: at most 40 characters

from .. import fast_path, pipeline_setup, prompt_cache, vae_precision
from ..memory_mode import CPU_OFFLOAD_ENV
from ..models import LocatedModel, texture_model_setting
from ..output_files import write_file
from ..task_context import JobContext, TaskOutput, output_root
from ..tiny_autoencoder import decoding_with, tiny_autoencoder

PNG_PROVENANCE_KEY = "atelier.provenance"
# zlib level of the PNG (lossless at every level). Measured with Pillow on a 512 px smooth
# texture: level 6 (Pillow's default) 69 ms and 383 KiB, level 1 22 ms and 448 KiB; at 1024 px
# 296 ms against 89 ms for 17% more bytes. Noise-like images cost the same at either level.
PNG_COMPRESS_LEVEL = 1
PREVIEW_FILE = "preview.rgba"
EARLY_PIXELS_FILE = "base_color.rgba"  # an early_pixels job's raw pixels, beside its PNG
MAX_GUIDANCE = 50.0
# Components a model_index.json may name; anything else would mean loading custom code.
_TRUSTED_LIBRARIES = {"diffusers", "transformers", None}
# A size off this grid suits no family, so it is refused before any model loads.
ANY_FAMILY_MULTIPLE = math.gcd(*(family.size_multiple for family in FAMILIES.values()))


def run(request: protocol.TextureRequest, job: JobContext) -> TaskOutput:
    """Generate one texture; returns the PNG as the ``base_color`` file, or for a preview the
    raw RGBA bytes as the ``preview`` file."""
    import torch

    check_request(request)
    pipeline_setup.check(job.device)  # a bad setting fails here, before any model loads
    model = texture_model_setting(request.model)
    try:
        pipe = job.load("texture", model, load_pipeline)
    except torch.OutOfMemoryError as exc:  # a model too large for the GPU fails as it moves there
        raise out_of_memory(f"loading {model} on {job.device}", exc) from None
    family = family_of(pipe, model)
    settings = resolve_settings(request, pipe, family)
    tiny, tiny_name, tiny_note = (tiny_autoencoder(job, pipe, family) if request.tiny_autoencoder
                                  else (None, "", ""))
    job.check_cancelled()

    seed = job.seed
    # A CPU generator gives the same starting noise on every device, so a seed reproduces.
    generator = torch.Generator(device="cpu").manual_seed(seed)

    from ..seamless import seamless_tiling

    options = call_options(request, family)
    # Seamless tiling patches the models' convolutions, which compiled code would compile again
    # for at every call: those jobs run the eager code.
    eager = request.seamless != "off"
    prompt_cache.install(pipe)  # again at every call: CPU offload's hooks drop it after each one
    try:
        with vae_precision.kept(pipe):  # a float32 decode that runs out of memory leaves it float32
            if not eager:
                warm_up(job, pipe, settings, options, tiny_decoder=tiny is not None)
            # The tiny autoencoder goes in first, so seamless tiling wraps the decoder that runs.
            with (decoding_with(pipe, tiny), seamless_tiling(pipe, request.seamless),
                  fast_path.eager_if(eager)):
                image = pipe(
                    prompt=request.prompt, **options,
                    width=settings["width"], height=settings["height"],
                    num_inference_steps=settings["steps"], guidance_scale=settings["guidance"],
                    generator=generator, callback_on_step_end=progress_callback(job, settings["steps"]),
                ).images[0]
    except torch.OutOfMemoryError as exc:
        raise out_of_memory(f"making a {settings['width']}x{settings['height']} texture on {job.device}",
                            exc) from None
    # The call decodes after its last step check: a cancel that came meanwhile stops the job
    # here, before any file is written, so a job waiting behind it waits no longer.
    job.check_cancelled()
    if request.early_pixels and not request.preview:  # a preview's result is raw pixels already
        hand_over_early(image, job)

    parameters = {
        "prompt": request.prompt, "negative_prompt": request.negative_prompt,
        "width": settings["width"], "height": settings["height"], "steps": settings["steps"],
        "guidance": settings["guidance"], "seed": seed, "seamless": request.seamless,
        "style": request.style,  # the prompts above are already expanded with it
        "tiny_autoencoder": tiny is not None, "tiny_autoencoder_model": tiny_name if tiny is not None else "",
    }
    record = job.provenance(
        "diffusers", model, parameters, pipeline=type(pipe).__name__, family=family.name,
        scheduler=scheduler_record(pipe), optimisations=fast_path.optimisations(pipe, eager),
    )
    data = {**parameters, "notes": [tiny_note]} if tiny_note else parameters
    if request.preview:
        path = job.job_dir() / PREVIEW_FILE
        write_rgba(image, path)
        return TaskOutput(files=[protocol.ResultFile("preview", str(path), "rgba8")], metadata=record,
                          data=data)
    path = job.job_dir() / "base_color.png"
    write_png(image, path, record)
    return TaskOutput(files=[protocol.ResultFile("base_color", str(path), "png")],
                      metadata=record, data=data)


def hand_over_early(image, job: JobContext) -> None:
    """Write ``image``'s pixels raw (``EARLY_PIXELS_FILE``) and send them in an ``image`` event,
    so the client can show them before the PNG is encoded; a cancel that came meanwhile ends the
    job here, before the PNG is written."""
    path = job.job_dir() / EARLY_PIXELS_FILE
    write_rgba(image, path)
    job.early_pixels(path, *image.size)
    job.check_cancelled()


def call_options(request: protocol.TextureRequest, family: Family) -> dict:
    """The pipeline call's options that depend on the family."""
    options = {}
    if family.negative_prompt:
        # None, not "": SDXL zeroes the negative embedding only for a missing one.
        options["negative_prompt"] = request.negative_prompt or None
    if family.max_sequence_length:
        options["max_sequence_length"] = family.max_sequence_length
    return options


def progress_callback(job: JobContext, steps: int):
    """The per-step callback: progress, then the cancel check. It never reads the tensors it is
    handed (nor the timestep): on a GPU a read makes the CPU wait for the device at every step,
    which is the one rule the fast path sets for callbacks."""
    def on_step_end(pipeline, step, timestep, tensors):
        job.progress(step + 1, getattr(pipeline, "num_timesteps", None) or steps)
        job.check_cancelled()
        return tensors

    return on_step_end


def warm_up(job: JobContext, pipe, settings: dict, options: dict,
            tiny_decoder: bool = False) -> None:
    """Compile ``pipe`` (when the fast path compiles it) at this job's size, once per loaded model
    and size: the native size when the request left the size empty, else the size it asked for
    (a Turbo model used at 512 px never compiles its 1024 px shapes). The job's progress shows it
    as a stage. The warm-up calls take the job's options and guidance, which decide the
    shapes; they decode with the full VAE, whose decoder is compiled too, unless the job decodes
    with the tiny autoencoder (``tiny_decoder``): then they stop at the latents, and the full
    decoder is compiled by the first job that uses it."""
    import torch

    def run(width: int, height: int) -> None:
        pipe(prompt="", **options, width=width, height=height, num_inference_steps=fast_path.WARM_UP_STEPS,
             guidance_scale=settings["guidance"], generator=torch.Generator(device="cpu").manual_seed(0),
             callback_on_step_end=cancel_callback(job), output_type="latent" if tiny_decoder else "pt")

    def report(stage: str) -> None:
        job.progress(0, settings["steps"], stage)

    # Guidance above 1 runs the unconditional prediction in the same batch: twice the rows. A
    # warm-up that stopped at the latents left the full decoder to compile: its own variant.
    variant = (settings["guidance"] > 1, tiny_decoder)
    fast_path.warm_up(pipe, settings["width"], settings["height"], run, variant=variant, report=report)


def cancel_callback(job: JobContext):
    """A per-step callback that only checks for a cancel (for calls that report no steps)."""
    def on_step_end(pipeline, step, timestep, tensors):
        job.check_cancelled()
        return tensors

    return on_step_end


def out_of_memory(doing: str, exc: Exception) -> TaskError:
    """The report that the device ran out of memory while ``doing``, with what to change.

    The server gives the memory back once the job has ended and its frames are gone.
    """
    return TaskError(
        "out_of_memory", f"the device ran out of memory {doing}: {first_line(exc)}",
        hint="try a smaller size (e.g. 512x512), close other programs using the GPU, unload "
             f"other models, start the backend with {CPU_OFFLOAD_ENV}=1 (CPU offload), "
             "or use device 'cpu'",
    )


def check_request(request: protocol.TextureRequest) -> None:
    """Checks that need no model: prompt, ranges, seamless mode, then the output folder (created
    here, so one that cannot be written fails before the model loads, not after denoising)."""
    if not request.prompt.strip():
        raise TaskError("bad_request", "the prompt is empty",
                        hint="describe the texture, e.g. 'mossy stone wall'")
    for name in ("width", "height"):
        value = getattr(request, name)
        if value is not None:
            check_size(name, value)
    if request.steps is not None and not 1 <= request.steps <= limits.max_steps():
        raise TaskError("bad_request",
                        f"steps must be between 1 and {limits.max_steps()}, got {short(request.steps)}",
                        hint="leave steps empty to use the model's recommended value")
    if request.guidance is not None and not (math.isfinite(request.guidance)
                                             and 0.0 <= request.guidance <= MAX_GUIDANCE):
        raise TaskError("bad_request",
                        f"guidance must be between 0 and {MAX_GUIDANCE:g}, got {short(request.guidance)}",
                        hint="leave guidance empty to use the model's recommended value")
    if request.seamless not in protocol.SEAMLESS_MODES:
        raise TaskError("bad_request", f"seamless must be one of {', '.join(protocol.SEAMLESS_MODES)}, "
                        f"got {short(request.seamless)}", hint="use 'xy' for a texture that tiles both ways")
    output_root(request.output_dir)


def check_size(name: str, value: int, family: Family | None = None) -> None:
    """Refuse a size out of the limits or not a multiple of the family's ``size_multiple``;
    before the family is known, of the multiple that some family accepts (the smallest)."""
    top = limits.max_size()
    if not limits.MIN_SIZE <= value <= top:
        raise TaskError("bad_request",
                        f"{name} must be between {limits.MIN_SIZE} and {top} pixels, got {short(value)}",
                        hint=f"choose a size such as 512 or 1024 (ATELIER_MAX_SIZE sets the limit, {top})")
    multiple = family.size_multiple if family else ANY_FAMILY_MULTIPLE
    if value % multiple:
        lower = value // multiple * multiple
        models = f" for {family.name} models" if family else ""
        raise TaskError("bad_request", f"{name} must be a multiple of {multiple}{models}, got {value}",
                        hint=f"use {max(lower, limits.MIN_SIZE)} or {lower + multiple}")


def family_of(pipe, model: str) -> Family:
    """The model's family from its pipeline class and, for Turbo/FLUX variants, its name."""
    name = model.lower()
    cls = type(pipe).__name__
    if cls.startswith("Flux"):
        return FAMILIES["flux-schnell" if "schnell" in name else "flux-dev"]
    base = "sdxl" if cls.startswith("StableDiffusionXL") else "sd"
    return FAMILIES[f"{base}-turbo" if "turbo" in name else base]


def resolve_settings(request: protocol.TextureRequest, pipe, family: Family) -> dict:
    """Size, steps and guidance: the request's values or the family's recommended ones."""
    if request.seamless != "off" and not family.seamless:
        raise TaskError("bad_request", f"seamless tiling is not available for {family.name} models "
                        "(their transformer has no convolutions to wrap)",
                        hint="set seamless to 'off' or use an SD/SDXL model")
    if request.negative_prompt and not family.negative_prompt:
        raise TaskError("bad_request", f"{family.name} models take no negative prompt",
                        hint="clear the negative prompt")
    native, _ = native_size(pipe, family)
    width = request.width or native
    height = request.height or native
    for name, value in (("width", width), ("height", height)):
        check_size(name, value, family)
    return {
        "width": width, "height": height,
        "steps": request.steps if request.steps is not None else family.steps,
        "guidance": request.guidance if request.guidance is not None else family.guidance,
    }


def native_size(pipe, family: Family) -> tuple[int, int]:
    """The (width, height) ``pipe`` makes when a request names no size: the model's own, within
    the size limit."""
    sample = getattr(pipe, "default_sample_size", None) or pipe.unet.config.sample_size
    native = min(sample * pipe.vae_scale_factor, limits.max_size())
    native -= native % family.size_multiple  # a size limit off the family's grid rounds down
    return native, native


def load_pipeline(located: LocatedModel, device: str, dtype):
    """Load a text-to-image pipeline with safetensors only and no custom code."""
    from diffusers import AutoPipelineForText2Image

    if located.is_local or Path(located.path_or_id).is_dir():
        check_model_index(Path(located.path_or_id))
    try:
        pipe = AutoPipelineForText2Image.from_pretrained(
            located.path_or_id, dtype=dtype,
            use_safetensors=None if located.allow_pickle else True,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise TaskError("model_invalid", f"cannot load {located.path_or_id} as a text-to-image model: "
                        f"{first_line(exc)}",
                        hint="use a diffusers folder (model_index.json) of SD 1.x/2.x, SDXL or FLUX "
                             "with .safetensors weights") from None
    pipe.set_progress_bar_config(disable=True)
    pipeline_setup.prepare(pipe, device)
    return pipe


def check_model_index(folder: Path) -> None:
    """Refuse a folder that is not a diffusers pipeline or that names custom code."""
    index = folder / "model_index.json"
    if not index.is_file():
        raise TaskError("model_invalid", f"{folder} is not a diffusers pipeline (no model_index.json)",
                        hint="save the model with save_pretrained, or use a Hugging Face id")
    try:
        spec = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TaskError("model_invalid", f"{index} cannot be read: {exc}",
                        hint="re-download or re-save the model") from None
    if not isinstance(spec, dict):
        raise TaskError("model_invalid", f"{index} is not a JSON object", hint="re-save the model")
    for name, value in spec.items():
        if name.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        if value[0] not in _TRUSTED_LIBRARIES:
            raise TaskError("model_invalid", f"component {name!r} of {folder} needs custom code ({value[0]})",
                            hint="Atelier loads only diffusers and transformers components")


def write_png(image, path: Path, record: dict, compress_level: int = PNG_COMPRESS_LEVEL) -> None:
    """Save ``image`` with the provenance record as a PNG text chunk (``compress_level``: zlib's
    0..9, all lossless; bench/profile_texture.py compares them)."""
    import io

    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PNG_PROVENANCE_KEY, json.dumps(record, ensure_ascii=False, sort_keys=True))
    encoded = io.BytesIO()
    image.save(encoded, format="PNG", pnginfo=info, compress_level=compress_level)
    write_file(path, encoded.getvalue())


def write_rgba(image, path: Path) -> None:
    """Save ``image`` as raw 8-bit RGBA bytes, top row first (``width * height * 4`` bytes)."""
    write_file(path, image.convert("RGBA").tobytes())


def scheduler_record(pipe) -> dict:
    """The provenance of ``pipe``'s scheduler: its class and its JSON-safe config."""
    return {"class": type(pipe.scheduler).__name__, **_plain(dict(pipe.scheduler.config))}


def _plain(config: dict) -> dict:
    """A scheduler config with JSON-safe values only (drops private keys, tensors, NaN)."""
    plain = {}
    for key, value in config.items():
        if key.startswith("_"):
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        plain[key] = value
    return plain
