"""What a local model folder holds, told from its config files before anything loads it.

The model manager remembers folders the artist adds (Blender's preferences) and offers each for
the setting it fits: a diffusers text-to-image pipeline (``model_index.json``) for textures, a
diffusers ControlNet (``config.json`` naming a ``ControlNet`` class) for control, a transformers
model (``config.json`` with ``model_type``) for text, and a folder holding Marigold's three
pipelines (``core.maps_models``) for maps. Anything else is refused with what a model folder
needs. The config files are read as JSON data, no more than ``MAX_CONFIG_BYTES`` of each.

Standard library only (plus ``core``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import maps_models

PIPELINE_CONFIG = "model_index.json"  # a diffusers pipeline
MODEL_CONFIG = "config.json"  # one diffusers model, or a transformers model
MAX_CONFIG_BYTES = 1_000_000  # a model config is a few KB; anything far larger is not one
FOLDER_KINDS = ("texture", "control", "text", "maps")
_NEEDS = (f"a model folder holds {PIPELINE_CONFIG} (a diffusers pipeline, saved with "
          f"save_pretrained), {MODEL_CONFIG} (a transformers model or a diffusers ControlNet), or "
          "Marigold's " + ", ".join(f"{part.folder}/" for part in maps_models.MARIGOLD_PARTS) +
          " subfolders")


class ModelFolderError(ValueError):
    """A folder that is no model Atelier can use; the message says what it lacks."""


@dataclass(frozen=True)
class ModelFolder:
    """A checked local model: its absolute ``path``, the setting it fits (``kind``, one of
    ``FOLDER_KINDS``) and the class its config names (empty for a maps folder)."""

    path: str
    kind: str
    class_name: str


def inspect(folder: str) -> ModelFolder:
    """The model ``folder`` holds, or ``ModelFolderError`` saying why it is none."""
    try:
        path = Path(folder.strip()).expanduser().resolve()
        is_folder = path.is_dir()
    except (RuntimeError, OSError) as exc:  # "~name" of an unknown user, a name too long
        raise ModelFolderError(f"{folder[:200]!r} cannot be looked up: {exc}") from None
    if not folder.strip() or not is_folder:
        raise ModelFolderError(f"{folder[:200]!r} is not a folder; choose the folder a model was "
                               "saved in")
    if (path / PIPELINE_CONFIG).is_file():
        return _pipeline(path)
    if (path / MODEL_CONFIG).is_file():
        return _single_model(path)
    if any((path / part.folder).is_dir() for part in maps_models.MARIGOLD_PARTS):
        try:
            maps_models.part_sources(str(path))
        except maps_models.MapsModelError as exc:
            raise ModelFolderError(f"{exc.message}; {exc.hint}") from None
        return ModelFolder(str(path), "maps", "")
    raise ModelFolderError(f"{path} is not a model folder: {_NEEDS}")


def _pipeline(path: Path) -> ModelFolder:
    class_name = _class_name(_config(path / PIPELINE_CONFIG), path / PIPELINE_CONFIG)
    if class_name.startswith("Marigold"):
        raise ModelFolderError(
            f"{path} holds one Marigold pipeline ({class_name}); maps need all three: put them "
            "in the subfolders " + ", ".join(f"{part.folder}/" for part in maps_models.MARIGOLD_PARTS)
            + " of one folder and add that")
    return ModelFolder(str(path), "texture", class_name)


def _single_model(path: Path) -> ModelFolder:
    config = _config(path / MODEL_CONFIG)
    if "_diffusers_version" in config:
        class_name = _class_name(config, path / MODEL_CONFIG)
        if "ControlNet" not in class_name:
            raise ModelFolderError(
                f"{path} holds one diffusers part ({class_name}), not a whole model; add the "
                f"pipeline folder above it (the one with {PIPELINE_CONFIG})")
        return ModelFolder(str(path), "control", class_name)
    if not isinstance(config.get("model_type"), str):
        raise ModelFolderError(f"{path / MODEL_CONFIG} names no model_type; {_NEEDS}")
    architectures = config.get("architectures")
    first = architectures[0] if isinstance(architectures, list) and architectures else ""
    return ModelFolder(str(path), "text", first if isinstance(first, str) else "")


def _config(file: Path) -> dict:
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ModelFolderError(f"{file} cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ModelFolderError(f"{file} is over {MAX_CONFIG_BYTES // 1000} KB: not a model config")
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFolderError(f"{file} is not valid JSON ({exc}); save the model again with "
                               "save_pretrained") from None
    if not isinstance(config, dict):
        raise ModelFolderError(f"{file} is not a JSON object; save the model again with save_pretrained")
    return config


def _class_name(config: dict, file: Path) -> str:
    name = config.get("_class_name")
    if not isinstance(name, str) or not name:
        raise ModelFolderError(f"{file} names no _class_name; save the model again with save_pretrained")
    return name
