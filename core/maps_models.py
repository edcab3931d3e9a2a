"""The models behind PBR maps: which engine a maps model setting means, and Marigold's parts.

A maps model setting (a request's ``model``, else ``ATELIER_MAPS_MODEL``, else
``core.pbr.DEFAULT_MAPS_MODEL``) is one of:

- ``classic``: numpy filters, no weights (``core.pbr_classic``);
- ``marigold``: the three Marigold pipelines of ``MARIGOLD_PARTS``, from the Hugging Face hub
  (or its local cache);
- a local folder holding the three pipelines in the subfolders ``normals/``, ``appearance/``
  and ``depth/``, each saved with ``save_pretrained`` (``python -m backend`` never guesses
  which subfolder is which).

Each map comes from one part: normals from the normals model, albedo, roughness and metallic
from the appearance model (intrinsic image decomposition), height from the depth model, and
ambient occlusion from the classic filter run on that learned height (Marigold has no AO).

Marigold's code is Apache-2.0; the v1-1 weights are under PRS-ETH's Open RAIL++-M licence (the
CreativeML Open RAIL-M terms without the clause that forces updates): use, redistribution and
commercial use are allowed, with use-based restrictions that pass on to whoever gets the
weights. The maps Atelier makes with them are yours (the licence claims no rights in outputs).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .pbr import DEFAULT_MAPS_MODEL, MAPS_MODEL_ENV

CLASSIC = "classic"
MARIGOLD = "marigold"
# The licence the three v1-1 parts share (each part states its own, so a part with other terms
# can say so).
MARIGOLD_LICENCE = "Open RAIL++-M (weights), Apache-2.0 (code)"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class MarigoldPart:
    """One Marigold pipeline: the subfolder a local maps model keeps it in, the diffusers
    pipeline class that loads it, its hub id, the maps it makes and the licence of its weights
    and code."""

    folder: str
    pipeline: str
    hub_id: str
    maps: tuple[str, ...]
    licence: str

    @property
    def download_command(self) -> str:
        """The command that puts this part in the Hugging Face cache."""
        return f"hf download {self.hub_id}"


MARIGOLD_PARTS = (
    MarigoldPart("normals", "MarigoldNormalsPipeline", "prs-eth/marigold-normals-v1-1", ("normal",),
                 MARIGOLD_LICENCE),
    MarigoldPart("appearance", "MarigoldIntrinsicsPipeline", "prs-eth/marigold-iid-appearance-v1-1",
                 ("roughness", "metallic", "albedo"), MARIGOLD_LICENCE),
    MarigoldPart("depth", "MarigoldDepthPipeline", "prs-eth/marigold-depth-v1-1", ("height", "ao"),
                 MARIGOLD_LICENCE),
)
# The appearance model's outputs, named as its ``target_properties`` name them.
APPEARANCE_TARGETS = {"albedo": "albedo", "roughness": "roughness", "metallic": "metallicity"}


class MapsModelError(ValueError):
    """A maps model setting that names nothing usable; ``code`` is the protocol error code
    (``bad_request``, ``model_missing`` or ``model_invalid``) and ``hint`` says what to change."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


def maps_model_setting(requested: str = "") -> str:
    """The maps model a job uses: the request's, else ``ATELIER_MAPS_MODEL``, else the default."""
    return requested.strip() or os.environ.get(MAPS_MODEL_ENV, "").strip() or DEFAULT_MAPS_MODEL


def named(value: str) -> str:
    """A maps model setting as Atelier compares it: trimmed, and the words 'classic' and
    'marigold' in lower case however they were typed ('Classic' is the classic engine); a
    folder keeps its spelling."""
    value = value.strip()
    return value.lower() if value.lower() in (CLASSIC, MARIGOLD) else value


def engine_of(model: str) -> str:
    """``classic`` for the classic setting, ``marigold`` for everything else (the hub set or a
    folder); what the result's provenance records as its engine."""
    return CLASSIC if named(model) == CLASSIC else MARIGOLD


def parts_for(maps) -> tuple[MarigoldPart, ...]:
    """The Marigold parts that the maps ``maps`` need, in ``MARIGOLD_PARTS`` order."""
    wanted = set(maps)
    return tuple(part for part in MARIGOLD_PARTS if wanted & set(part.maps))


def part_sources(model: str) -> dict[str, str]:
    """``{part folder name: hub id or local folder}`` of a Marigold maps model setting, or
    ``MapsModelError`` saying what is wrong: a folder lacking a part names the subfolder
    (``model_invalid``), a path that does not exist is ``model_missing``, and any other name
    is ``bad_request``."""
    name = named(model)
    if name == MARIGOLD:
        return {part.folder: part.hub_id for part in MARIGOLD_PARTS}
    expected = ", ".join(f"{part.folder}/" for part in MARIGOLD_PARTS)
    choices = f"use {CLASSIC} (no weights), {MARIGOLD} or a folder holding {expected}"
    try:
        folder = Path(name).expanduser()
        is_folder = folder.is_dir()
    except (RuntimeError, OSError) as exc:  # "~name" of an unknown user, a name too long to look up
        raise MapsModelError("model_missing", f"maps model {name[:200]!r} cannot be looked up: {exc}",
                             hint=choices) from None
    if is_folder:
        missing = [part for part in MARIGOLD_PARTS if not (folder / part.folder).is_dir()]
        if missing:
            names = ", ".join(f"{part.folder}/" for part in missing)
            raise MapsModelError(
                "model_invalid",
                f"maps model folder {str(folder)!r} has no {names} subfolder "
                f"(it must hold {expected}: one Marigold pipeline each)",
                hint="save the missing pipeline there, e.g. " + "; ".join(
                    f"`hf download {part.hub_id} --local-dir {folder / part.folder}`" for part in missing))
        return {part.folder: str((folder / part.folder).resolve()) for part in MARIGOLD_PARTS}
    if _HUB_ID.match(name) and not name.startswith((".", "~")):
        raise MapsModelError("bad_request", f"maps model {name!r} is one hub id, but maps need three "
                             "Marigold pipelines", hint=choices)
    if folder.is_absolute() or name.startswith((".", "~")) or "/" in name or os.sep in name:
        raise MapsModelError("model_missing", f"maps model folder {name!r} does not exist", hint=choices)
    raise MapsModelError("bad_request", f"unknown maps model {name!r}", hint=choices)
