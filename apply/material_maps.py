"""Put PBR maps on materials in one step: images, UV maps, the node network, provenance, history.

Runs on the main thread inside one operator call, so it is one undo step. On a failure
everything it made is removed again (images, files, UV maps, nodes) and ``ApplyError`` says why.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from ..client.session import ApplyError
from ..core.pbr import COLOR_SPACES, MAP_ROLES
from ..core.protocol import SEAMLESS_MODES
from . import pbr_material, uv_unwrap
from .names import MAX_NAME_BYTES, datablock_name
from .texture import check_editable, load_image, roll_back, store_provenance, with_meshes

MAPS_PROVENANCE_KEY = "atelier_maps_provenance"
# The maps read through a UV map (a tangent-space normal, a height for bump or displacement).
NEED_UV_MAP = frozenset({"normal", "height"})


@dataclass
class MapOptions:
    """How the maps act in the material (the operators' ``displacement`` and ``use_ao``)."""

    displacement: str = "BUMP"
    use_ao: bool = True


@dataclass
class AppliedMaps:
    """What one application made, for the report and the history."""

    images: dict = field(default_factory=dict)  # role -> bpy.types.Image (None: made of nodes)
    provenance: dict = field(default_factory=dict)
    unwrapped: list = field(default_factory=list)  # names of objects given the "Atelier" UV map


def pick_material(context: bpy.types.Context, name: str = "") -> bpy.types.Material:
    """The material named ``name``, else the active object's active material; ``ApplyError``
    saying what to select when there is none."""
    name = name.strip()
    if name:
        material = bpy.data.materials.get(name)
        if material is None:
            raise ApplyError(f"there is no material named {name!r}; check the name")
        return material
    obj = context.active_object
    if obj is None or obj.active_material is None:
        raise ApplyError("select an object with a material, or name one in material")
    return obj.active_material


def check_can_take_maps(context: bpy.types.Context, material: bpy.types.Material, roles) -> bpy.types.Image:
    """The picture ``roles`` are made from; ``ApplyError`` saying what to change when they cannot
    be put on ``material`` here: it has no picture, it is linked from a library, or a mesh
    needing a UV map cannot get one (``meshes_to_unwrap``). Run before anything is made or sent."""
    picture = check_material(material)
    check_editable([material])
    meshes_to_unwrap(context, [material], roles)
    return picture


def meshes_to_unwrap(context: bpy.types.Context, materials, roles) -> list[bpy.types.Object]:
    """The objects (one per mesh) showing ``materials`` that need a UV map for ``roles`` (normal
    and height maps need one); ``ApplyError`` when one cannot be unwrapped here (hidden, not in
    Object Mode, linked from a library)."""
    if not NEED_UV_MAP & set(roles):
        return []
    users = [obj for material in materials for obj in uv_unwrap.users_of(material)]
    to_unwrap = uv_unwrap.meshes_without_uvs(users)
    uv_unwrap.check_can_unwrap(context, to_unwrap)
    check_editable(with_meshes(to_unwrap))
    return to_unwrap


def check_material(material: bpy.types.Material) -> bpy.types.Image:
    """The picture maps are made from (``ApplyError`` when the material has none)."""
    return pbr_material.base_texture(material).image


def seamless_of(image: bpy.types.Image) -> str:
    """How the picture tiles, as its provenance says ('off' when nothing says so)."""
    value = str(image.get("atelier_seamless", "off")).lower()
    return value if value in SEAMLESS_MODES else "off"


def apply_maps(context: bpy.types.Context, materials, files: dict[str, Path], record: dict,
               options: MapOptions, storage: str) -> AppliedMaps:
    """Load the map ``files`` (role -> PNG) and put them on every material in ``materials``.

    Meshes showing the materials without a UV map get one ("Atelier") when normal or height
    maps come; otherwise a box-projected picture keeps its projection and the maps share it.
    ``record`` is the maps' provenance. Raises ``ApplyError`` with everything undone."""
    for material in materials:
        check_material(material)
    unknown = sorted(set(files) - set(MAP_ROLES))
    if unknown:
        raise ApplyError(f"unknown map {unknown[0]!r}; use one of {', '.join(MAP_ROLES)}")
    needs_uv = bool(NEED_UV_MAP & set(files))
    to_unwrap = meshes_to_unwrap(context, materials, files)
    stem = check_material(materials[0]).name
    created: list = []
    undo: list = []
    applied = AppliedMaps(provenance=record)
    try:
        for role in MAP_ROLES:
            if role in files:
                applied.images[role] = _load_map(files[role], stem, role, storage, record, created)
        applied.unwrapped = uv_unwrap.add_uv_maps(context, to_unwrap, undo)
        for material in materials:
            undo.append(lambda material=material: pbr_material.remove_network(material))
            pbr_material.build_network(material, applied.images, options.displacement, options.use_ao,
                                       use_uv=needs_uv)
            store_maps_provenance(material, applied)
    except BaseException:
        roll_back(undo, created)
        raise
    return applied


def _load_map(path: Path, stem: str, role: str, storage: str, record: dict, created: list):
    if not path.is_file():
        raise ApplyError(f"the {role} map {path} is not there; check free disk space and run it again")
    image = load_image(path, map_name(stem, role), storage, created)
    image.colorspace_settings.name = COLOR_SPACES[role]
    image["atelier_role"] = role
    store_provenance(image, record)
    return image


def map_name(stem: str, role: str) -> str:
    """'<stem> <role>', the stem shortened so the role always fits in a datablock name."""
    suffix = f" {role}"
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return datablock_name(cut.rstrip() + suffix)


def store_maps_provenance(material: bpy.types.Material, applied: AppliedMaps) -> None:
    """The maps' record beside the texture's own (``store_provenance``), which stays as it was."""
    material[MAPS_PROVENANCE_KEY] = json.dumps(applied.provenance, sort_keys=True)
    material["atelier_maps"] = ",".join(applied.images)
    for key in ("engine", "model"):
        value = applied.provenance.get(key)
        if isinstance(value, str):
            material[f"atelier_maps_{key}"] = value


def record_history(scene: bpy.types.Scene, material: bpy.types.Material, applied: AppliedMaps):
    """Note every map, and what made it, on the history entry of ``material`` (the newest one
    naming it; a new entry for a material Atelier did not make)."""
    history = scene.atelier.history
    index = next((i for i in reversed(range(len(history)))
                  if history[i].material_name == material.name), None)
    if index is None:
        item = history.add()
        index = len(history) - 1
        picture = check_material(material)
        item.name = item.material_name = material.name
        item.image_name = picture.name
        item.targets = ", ".join(obj.name for obj in uv_unwrap.users_of(material))
        item.created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        item.provenance = picture.get("atelier_provenance", "")
    item = history[index]
    item.maps.clear()
    for role, image in applied.images.items():
        entry = item.maps.add()
        entry.role, entry.image_name = role, image.name if image is not None else ""
        entry.engine = str(applied.provenance.get("engine", ""))
        entry.model = str(applied.provenance.get("model", ""))
    item.maps_provenance = json.dumps(applied.provenance, sort_keys=True)
    scene.atelier.history_index = index
    return item

