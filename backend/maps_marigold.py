"""The Marigold maps engine: PBR maps from three diffusion models that read a picture.

- normal: ``MarigoldNormalsPipeline`` predicts camera-space normals, turned into a tangent-space
  map by ``core.normal_space.camera_to_tangent`` (one function, tested on its own);
- albedo, roughness, metallic: ``MarigoldIntrinsicsPipeline`` with the appearance model, which
  splits a picture into sRGB albedo and linear roughness and metallicity;
- height: ``MarigoldDepthPipeline``. Depth rather than integrated normals: the depth model is
  trained on relief itself, so large shapes (stones standing out of mortar) come out as they
  look, while integrating predicted normals turns their small errors into slow drifts across
  the texture. Its depth is affine-invariant (near 0, far 1, scale and offset unknown), which a
  height map does not need anyway: ``height_from_depth`` takes away any tilt on axes that do not
  tile, puts the mean at 0.5 and scales the largest excursion to the 0..1 range;
- ao: the classic filter (``core.pbr_classic.ao_from_height``) on that learned height.

Only the pipelines the requested maps need are loaded; each is kept warm in the backend's model
cache (kinds ``maps-normals``, ``maps-appearance``, ``maps-depth``), loaded like every model:
safetensors only, offline unless the request allows the network, no custom code.

Seamless: each pipeline first resizes the picture to its processing resolution and pads it to a
multiple of 8 by repeating edge pixels, so circular padding inside its convolutions would wrap
an image that no longer tiles. Instead the picture is wrap-padded by a quarter of its size on
each tiling axis (right and bottom), predicted whole, and folded back: the first quarter fades
from the prediction of the padded copy (which continues the last column) to its own, so the
last and first columns are neighbours in one prediction and the map tiles at any size.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import TaskError, first_line
from core.maps_models import APPEARANCE_TARGETS, MarigoldPart, parts_for
from core.normal_space import camera_to_tangent
from core.pbr_classic import ao_from_height, encode_normals, seamless_axes

from .memory_mode import place
from .models import LocatedModel
from .tasks.texture import out_of_memory  # one report for every job that runs out of memory

# Steps and processing resolution for a pipeline whose config names none: the v1-1 models
# recommend 1 to 4 steps, and Stable Diffusion 2, which they are tuned from, works at 768 px.
FALLBACK_STEPS = 4
FALLBACK_RESOLUTION = 768
# The wrap-padding on a tiling axis: a quarter of the side, and never less than this (pixels).
WRAP_FRACTION = 4
MIN_WRAP_MARGIN = 8
# Only these files of a hub model are fetched: configs, tokenizer files and safetensors weights.
_DOWNLOADED = ["*.json", "*.txt", "*.safetensors"]


@dataclass
class LoadedPart:
    """A loaded Marigold pipeline and where it came from (for the provenance record)."""

    pipe: Any
    source: str
    revision: str | None


def derive(job, sources: dict[str, str], rgb: np.ndarray, roles: tuple[str, ...], seamless: str,
           steps: int | None) -> tuple[dict[str, np.ndarray], int, dict]:
    """The maps ``roles`` of ``rgb`` (float32 H x W x 3 in 0..1) as float32 arrays in 0..1,
    the denoising steps used, and the record of each pipeline that ran.

    ``sources`` maps each part's folder name to its hub id or local folder
    (``core.maps_models.part_sources``); ``steps`` None means the most that any of the
    pipelines recommends."""
    import torch

    parts = parts_for(roles)
    job.progress(0, len(parts), "loading the maps models")
    loaded = {}
    for part in parts:
        try:
            loaded[part.folder] = job.load(f"maps-{part.folder}", sources[part.folder],
                                           lambda located, device, dtype, part=part:
                                           load_part(part, located, device, dtype))
        except torch.OutOfMemoryError as exc:
            raise out_of_memory(f"loading the Marigold {part.folder} model on {job.device}", exc) from None
        except TaskError as exc:
            if exc.code != "model_missing" or sources[part.folder] != part.hub_id:
                raise
            downloads = " and ".join(f"`{needed.download_command}`" for needed in parts)
            raise TaskError(exc.code, exc.message,
                            hint=f"{exc.hint} (the maps asked for need {downloads})") from None
    steps = steps or max(loaded[part.folder].pipe.default_denoising_steps or FALLBACK_STEPS for part in parts)
    total = steps * len(parts)
    predictions = {}
    for index, part in enumerate(parts):
        pipe = loaded[part.folder].pipe

        def on_step(step: int, done: int = index * steps, stage: str = part.folder) -> None:
            job.progress(done + step, total, stage)
            job.check_cancelled()

        try:
            predictions[part.folder] = predict(pipe, rgb, seamless, steps, job.seed, on_step)
        except torch.OutOfMemoryError as exc:
            doing = f"predicting {part.folder} for a {rgb.shape[1]}x{rgb.shape[0]} image on {job.device}"
            raise out_of_memory(doing, exc) from None
    maps = maps_from(predictions, roles, seamless, loaded.get("appearance"))
    record = {part.folder: {"model": sources[part.folder], "source": loaded[part.folder].source,
                            "revision": loaded[part.folder].revision, "pipeline": part.pipeline,
                            "scheduler": type(loaded[part.folder].pipe.scheduler).__name__,
                            "processing_resolution": processing_resolution(loaded[part.folder].pipe)}
              for part in parts}
    return maps, steps, record


# --------------------------------------------------------------------------- loading


def load_part(part: MarigoldPart, located: LocatedModel, device: str, dtype) -> LoadedPart:
    """Load one Marigold pipeline from a local folder (or download it first, when the request
    allows the network): safetensors only, the pipeline class the part needs, no custom code."""
    import diffusers

    from .tasks.texture import check_model_index

    folder, revision = _local_copy(located)
    check_model_index(folder)
    _check_pipeline_class(folder, part)
    try:
        pipe = getattr(diffusers, part.pipeline).from_pretrained(
            str(folder), dtype=dtype, use_safetensors=True, variant=_variant(folder))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise TaskError("model_invalid", f"cannot load {folder} as a {part.pipeline}: {first_line(exc)}",
                        hint=f"save the {part.folder} model with save_pretrained (safetensors), "
                             f"e.g. `{part.download_command}`") from None
    if part.folder == "appearance":
        appearance_channels(pipe.target_properties, folder)
    # Offloaded part by part under ATELIER_CPU_OFFLOAD=1 or ATELIER_LOW_VRAM=1, as for textures, but
    # never tiled: blended VAE tiles would shift the normals and heights the maps measure.
    place(pipe, device, tile=False)
    pipe.set_progress_bar_config(disable=True)
    return LoadedPart(pipe, str(folder), revision)


def _local_copy(located: LocatedModel) -> tuple[Path, str | None]:
    """The folder holding the model, downloading a hub model's configs and safetensors first
    when ``locate`` allowed it (no pickle file is ever fetched)."""
    if Path(located.path_or_id).is_dir():
        return Path(located.path_or_id), located.revision
    from huggingface_hub import snapshot_download

    snapshot = Path(snapshot_download(located.path_or_id, allow_patterns=_DOWNLOADED))
    return snapshot, snapshot.name


def _check_pipeline_class(folder: Path, part: MarigoldPart) -> None:
    """Refuse a folder holding another pipeline (a depth model in ``normals/``, say)."""
    found = json.loads((folder / "model_index.json").read_text(encoding="utf-8")).get("_class_name")
    if found != part.pipeline:
        raise TaskError("model_invalid", f"{folder} holds a {found}, not the {part.pipeline} that "
                        f"the {part.folder}/ subfolder must hold",
                        hint=f"put {part.hub_id} (or a model like it) in {part.folder}/")


def _variant(folder: Path) -> str | None:
    """"fp16" when the UNet's weights are there only as 16-bit files, else None."""
    names = [path.name for path in (folder / "unet").glob("*.safetensors")]
    return "fp16" if names and all(".fp16." in name for name in names) else None


def appearance_channels(properties: Any, folder: Path | str = "the appearance model") -> dict[str, tuple]:
    """``{map: (target index, channel or None)}`` for albedo, roughness and metallic, read from
    an appearance model's ``target_properties``; ``model_invalid`` when it predicts other things
    (a lighting model gives albedo, shading and a residual instead)."""
    properties = properties if isinstance(properties, dict) else {}
    names = list(properties.get("target_names") or [])
    where: dict[str, tuple] = {}
    for index, name in enumerate(names):
        subs = (properties.get(name) or {}).get("sub_target_names")
        for role, target in APPEARANCE_TARGETS.items():
            if name == target:
                where[role] = (index, None)
            elif isinstance(subs, list) and target in subs:
                where[role] = (index, subs.index(target))
    missing = [APPEARANCE_TARGETS[role] for role in APPEARANCE_TARGETS if role not in where]
    if missing:
        raise TaskError("model_invalid", f"{folder} does not predict {', '.join(missing)} "
                        f"(it predicts {', '.join(map(str, names)) or 'nothing it names'})",
                        hint="use the appearance model prs-eth/marigold-iid-appearance-v1-1, "
                             "not the lighting one")
    return where


def processing_resolution(pipe) -> int:
    """The size (longest side, pixels) the pipeline predicts at before matching the input."""
    return pipe.default_processing_resolution or FALLBACK_RESOLUTION


# --------------------------------------------------------------------------- predicting


def predict(pipe, rgb: np.ndarray, seamless: str, steps: int, seed: int, on_step=None) -> np.ndarray:
    """One pipeline's prediction (N x H x W x C, the input's size) of ``rgb``, wrap-padded and
    folded back on the axes ``seamless`` names. ``on_step(step)`` runs after each denoising step
    (it may raise to stop). A CPU generator seeded with ``seed`` makes the noise, so a seed gives
    the same maps on any device; with seamless off this is exactly ``pipe(rgb, ...)``."""
    import torch

    wrap_x, wrap_y = seamless_axes(seamless)
    padded, margins = wrap_pad(rgb, wrap_x, wrap_y)
    with _reporting(pipe, on_step):
        prediction = pipe(padded, num_inference_steps=steps,
                          processing_resolution=processing_resolution(pipe),
                          generator=torch.Generator(device="cpu").manual_seed(seed),
                          output_type="np").prediction
    return np.stack([fold_back(one, rgb.shape[:2], margins) for one in prediction])


@contextlib.contextmanager
def _reporting(pipe, on_step):
    """Call ``on_step(n)`` after the scheduler's n-th step inside the block: every Marigold
    pipeline steps its scheduler once per denoising step (and has no step callback of its own).
    The cached pipeline is left as it was."""
    if on_step is None:
        yield
        return
    scheduler = pipe.scheduler
    original = scheduler.step
    taken = [0]

    def step(*args, **kwargs):
        result = original(*args, **kwargs)
        taken[0] += 1
        on_step(taken[0])
        return result

    scheduler.step = step
    try:
        yield
    finally:
        vars(scheduler).pop("step", None)


def wrap_pad(image: np.ndarray, wrap_x: bool, wrap_y: bool) -> tuple[np.ndarray, tuple[int, int]]:
    """``image`` continued past its right and bottom edges by its own first columns and rows on
    the axes that tile, and the (rows, columns) added."""
    height, width = image.shape[:2]
    margin_y = max(MIN_WRAP_MARGIN, height // WRAP_FRACTION) if wrap_y else 0
    margin_x = max(MIN_WRAP_MARGIN, width // WRAP_FRACTION) if wrap_x else 0
    pads = ((0, margin_y), (0, margin_x)) + ((0, 0),) * (image.ndim - 2)
    return np.pad(image, pads, mode="wrap"), (margin_y, margin_x)


def fold_back(prediction: np.ndarray, shape: tuple[int, int], margins: tuple[int, int]) -> np.ndarray:
    """A prediction of a ``wrap_pad``-ed image cut back to ``shape``; on each padded axis the
    first pixels fade from the padded copy's prediction (at 0) to their own (at the margin)."""
    folded = prediction
    for axis, (size, margin) in ((1, (shape[1], margins[1])), (0, (shape[0], margins[0]))):
        if margin:
            folded = _fold(folded, size, margin, axis)
    return folded[:shape[0], :shape[1]]


def _fold(values: np.ndarray, size: int, margin: int, axis: int) -> np.ndarray:
    moved = np.moveaxis(values, axis, 0)
    kept = moved[:size].copy()
    weight = (np.arange(margin, dtype=np.float32) / margin).reshape(-1, *[1] * (moved.ndim - 1))
    kept[:margin] = moved[size:size + margin] * (1 - weight) + kept[:margin] * weight
    return np.moveaxis(kept, 0, axis)


# --------------------------------------------------------------------------- maps


def maps_from(predictions: dict[str, np.ndarray], roles: tuple[str, ...], seamless: str,
              appearance: LoadedPart | None = None) -> dict[str, np.ndarray]:
    """The maps ``roles`` (float32, 0..1) from the pipelines' ``predictions`` (by part name)."""
    wrap_x, wrap_y = seamless_axes(seamless)
    maps: dict[str, np.ndarray] = {}
    if "normal" in roles:
        maps["normal"] = encode_normals(camera_to_tangent(predictions["normals"][0]))
    if {"height", "ao"} & set(roles):
        height = height_from_depth(predictions["depth"][0, ..., 0], wrap_x, wrap_y)
        if "height" in roles:
            maps["height"] = height
        if "ao" in roles:
            maps["ao"] = ao_from_height(height, wrap_x, wrap_y)
    if {"albedo", "roughness", "metallic"} & set(roles):
        where = appearance_channels(appearance.pipe.target_properties)
        for role in ("albedo", "roughness", "metallic"):
            if role in roles:
                index, channel = where[role]
                values = predictions["appearance"][index]
                maps[role] = values if channel is None else values[..., channel]
    return {role: np.clip(maps[role], 0.0, 1.0).astype(np.float32) for role in roles}


def height_from_depth(depth, wrap_x: bool = False, wrap_y: bool = False) -> np.ndarray:
    """A height map (H x W float32, mean 0.5, largest excursion reaching 0 or 1) from an
    affine-invariant depth prediction (0 near, 1 far): near is high. A tilt of the whole
    surface is taken away on axes that do not tile (on those that do it would break the tiling,
    and a texture that tiles has none)."""
    relief = -np.asarray(depth, dtype=np.float64)
    for axis, wraps in ((1, wrap_x), (0, wrap_y)):
        if not wraps and relief.shape[axis] > 1:
            position = np.arange(relief.shape[axis], dtype=np.float64) - (relief.shape[axis] - 1) / 2
            position = position.reshape((-1, 1) if axis == 0 else (1, -1))
            slope = (relief * position).sum() / ((position**2).sum() * relief.shape[1 - axis])
            relief = relief - slope * position
    relief -= relief.mean()
    extent = np.abs(relief).max()
    if extent < 1e-9:  # a flat prediction: no relief to scale
        return np.full(relief.shape, 0.5, dtype=np.float32)
    return (0.5 + 0.5 * relief / extent).astype(np.float32)
