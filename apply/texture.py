"""Put a generated texture on objects: image, material, slots, provenance, history.

Everything here runs on the main thread inside one operator call, so it is one undo step.
On any failure everything made so far is removed again: nothing half-made stays in the file.
"""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from .. import preferences
from ..client.session import ApplyError
from ..core.provenance import Provenance, ProvenanceError
from ..core.results import TextureResult
from .names import datablock_name
from .nodes import node_tree

PROVENANCE_KEY = "atelier_provenance"
# Added to the box-mapped material when UV and UV-less meshes share one texture.
BOX_SUFFIX = " (box)"


@dataclass
class TextureParameters:
    """What was asked for; recorded in the history so it can be made again."""

    prompt: str
    negative_prompt: str = ""
    width: int = 512
    height: int = 512
    steps: int = 0
    guidance: float = 0.0
    seed: int = 0
    seamless: str = "XY"
    style: str = ""  # the style library's name ('' = none); the prompts above are the artist's
    model: str = ""


@dataclass
class Applied:
    """What one application made, for the report and the history."""

    materials: list = field(default_factory=list)
    image: bpy.types.Image | None = None
    objects: list = field(default_factory=list)
    missing: list = field(default_factory=list)


# ---------------------------------------------------------------------- targets


def can_hold_material(obj: bpy.types.Object | None) -> bool:
    return obj is not None and obj.data is not None and hasattr(obj.data, "materials")


def linked_problem(idblocks: Iterable[bpy.types.ID]) -> str:
    """Why one of ``idblocks`` cannot be changed in this file ('' when all can): it is linked
    from a library, or is a part of a library override that stays linked (an overridden
    object's mesh and materials). Blender's Python lets some changes to linked data through
    without an error, so they are refused here, before anything is sent or changed."""
    for idblock in idblocks:
        if not idblock.is_editable:
            what = (repr(idblock.name) if isinstance(idblock, bpy.types.Object)
                    else f"the {type(idblock).__name__.lower()} {idblock.name!r}")
            return (f"{what} is linked from a library and cannot be changed in this file; make it "
                    "local (select its object, then Object > Relations > Make Local > Selected "
                    "Objects, Data and Materials) or change it in the file it comes from")
    return ""


def check_editable(idblocks: Iterable[bpy.types.ID]) -> None:
    """``ApplyError`` saying what to make local when one of ``idblocks`` is linked from a library."""
    problem = linked_problem(idblocks)
    if problem:
        raise ApplyError(problem)


def with_meshes(objects: Iterable[bpy.types.Object]) -> list[bpy.types.ID]:
    """Each of ``objects`` followed by its data: what must be editable to change its mesh."""
    return [block for obj in objects for block in (obj, obj.data)]


def material_slot_problem(objects: Iterable[bpy.types.Object], object_level: bool = False) -> str:
    """Why a material cannot go into the active slot of one of ``objects`` here ('' when it can):
    the object is linked from a library, or the material would go into a linked mesh: a new slot
    (the object has none) always does, a slot linked to the mesh ('DATA') does unless
    ``object_level`` (the caller switches the slot to the object, as the live preview does). A
    library override whose slot is set to Object takes a material of its own."""
    blocks = []
    for obj in objects:
        blocks.append(obj)
        slots = obj.material_slots
        into_mesh = not slots or (not object_level and slots[obj.active_material_index].link == "DATA")
        if into_mesh:
            blocks.append(obj.data)
    return linked_problem(blocks)


def check_can_take_material(objects: Iterable[bpy.types.Object], object_level: bool = False) -> None:
    """``ApplyError`` saying what to make local when ``material_slot_problem`` finds one."""
    problem = material_slot_problem(objects, object_level)
    if problem:
        raise ApplyError(problem)


def pick_targets(context: bpy.types.Context, target: str = "") -> list[bpy.types.Object]:
    """``target`` by name; else the selected objects that hold materials; else the active one."""
    if target:
        obj = context.blend_data.objects.get(target)
        if obj is None:
            raise ApplyError(f"there is no object named {target!r}; check the target name")
        if not can_hold_material(obj):
            raise ApplyError(f"{target!r} is a {obj.type.lower()} and cannot hold a material; "
                             "choose a mesh object")
        return [obj]
    selected = [obj for obj in (context.selected_objects or []) if can_hold_material(obj)]
    if selected:
        return selected
    active = context.active_object
    return [active] if can_hold_material(active) else []


def resolve_targets(names: Iterable[str]) -> tuple[list[bpy.types.Object], list[str]]:
    """Objects by name at apply time; names whose object was deleted meanwhile come back apart."""
    found, missing = [], []
    for name in names:
        obj = bpy.data.objects.get(name)
        (found if can_hold_material(obj) else missing).append(obj if can_hold_material(obj) else name)
    return found, missing


def has_uv_map(obj: bpy.types.Object) -> bool:
    return obj.type == "MESH" and len(obj.data.uv_layers) > 0


# ---------------------------------------------------------------------- the image


def images_folder(storage: str) -> Path | None:
    """Where saved images go: ``//textures/`` beside a saved .blend, else Atelier's user folder;
    None when images are packed."""
    if storage != "SAVE":
        return None
    if bpy.data.filepath:
        return Path(bpy.path.abspath("//textures"))
    return Path(preferences.user_folder("textures"))


def _unique_file(folder: Path, stem: str, suffix: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:60].strip("_") or "texture"
    candidate = folder / f"{safe}{suffix}"
    number = 1
    while candidate.exists():
        number += 1
        candidate = folder / f"{safe}_{number}{suffix}"
    return candidate


def load_image(source: Path, name: str, storage: str, created: list) -> bpy.types.Image:
    """The result file as an Image datablock, packed or saved per the ``storage`` preference."""
    folder = images_folder(storage)
    path = source
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = _unique_file(folder, name, source.suffix)
            shutil.copyfile(source, path)
        except OSError as exc:
            raise ApplyError(f"cannot save the image in {folder}: {exc.strerror}; "
                             "choose 'Pack into .blend' in Atelier's preferences") from None
        created.append(path)
    try:
        image = bpy.data.images.load(str(path), check_existing=False)
    except RuntimeError as exc:
        raise ApplyError(f"Blender cannot read the generated image {path}: {exc}") from None
    created.append(image)
    if image.size[0] == 0:  # Blender loads lazily: an unreadable file shows up as no pixels
        raise ApplyError(f"Blender cannot read the generated image {path}; generate again")
    image.name = name
    colour_texture(image)
    if folder is None:
        image.pack()
    elif bpy.data.filepath:
        image.filepath = bpy.path.relpath(str(path))
    return image


def colour_texture(image: bpy.types.Image) -> None:
    """Mark ``image`` as colour in sRGB, as a generated texture is (not data, like a normal map)."""
    image.colorspace_settings.is_data = False
    image.colorspace_settings.name = "sRGB"


def store_provenance(idblock: bpy.types.ID, record: dict) -> None:
    """The record (``Provenance.to_dict()``) as custom properties: the whole JSON plus
    searchable scalars."""
    idblock[PROVENANCE_KEY] = json.dumps(record, sort_keys=True)
    provenance = _provenance(record)
    for key in ("engine", "model", "revision", "device", "dtype", "created"):
        value = getattr(provenance, key)
        if value is not None:
            idblock[f"atelier_{key}"] = value
    for key in ("prompt", "seed", "steps", "guidance", "seamless"):
        value = provenance.parameters.get(key)
        if _fits_custom_property(value):
            idblock[f"atelier_{key}"] = value


def _fits_custom_property(value) -> bool:
    """Whether a custom property holds ``value`` as it is: text, a float, or a whole number a C
    int holds (a larger one would raise ``OverflowError``; the JSON record keeps every value)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -2**31 <= value < 2**31
    return isinstance(value, (str, float))


def _provenance(record: dict) -> Provenance:
    try:
        return Provenance.from_dict(record)
    except ProvenanceError as exc:
        raise ApplyError(f"the provenance record cannot be stored: {exc}") from None


# ---------------------------------------------------------------------- the material


def build_material(name: str, image: bpy.types.Image, box_projection: bool) -> bpy.types.Material:
    """Principled BSDF <- Image Texture (sRGB) on Base Color; Box projection on object
    coordinates for meshes without UVs."""
    material = bpy.data.materials.new(name)
    tree = node_tree(material)
    nodes, links = tree.nodes, tree.links
    nodes.clear()
    output = nodes.new("ShaderNodeOutputMaterial")
    output.location = (300, 0)
    bsdf = nodes.new("ShaderNodeBsdfPrincipled")
    bsdf.location = (0, 0)
    texture = nodes.new("ShaderNodeTexImage")
    texture.location = (-400, 0)
    texture.image = image
    links.new(texture.outputs["Color"], bsdf.inputs["Base Color"])
    links.new(bsdf.outputs["BSDF"], output.inputs["Surface"])
    if box_projection:
        coordinates = nodes.new("ShaderNodeTexCoord")
        coordinates.location = (-650, 0)
        texture.projection = "BOX"
        texture.projection_blend = 0.2  # soft seams where the box faces meet
        links.new(coordinates.outputs["Object"], texture.inputs["Vector"])
    return material


def assign_material(obj: bpy.types.Object, material: bpy.types.Material, undo: list,
                    index: int | None = None) -> None:
    """Into slot ``index`` (default: the active one); a new slot when the object has none. How
    to take it back goes into ``undo`` (a ``SlotBefore``)."""
    added = len(obj.material_slots) == 0
    index = 0 if added else obj.active_material_index if index is None else index
    previous = None if added else obj.material_slots[index].material
    if added:
        obj.data.materials.append(material)
    else:
        obj.material_slots[index].material = material
    undo.append(SlotBefore(obj.session_uid, obj.data.session_uid, index, material.session_uid,
                           previous.session_uid if previous is not None else 0, added))


@dataclass
class SlotBefore:
    """What a slot held before ``assign_material`` put a material in; calling it puts that back.

    Datablocks are found again by ``session_uid``, not held: an undo or a redo re-reads them
    (a held reference then raises ``ReferenceError``), and the uid stays the same through both.
    """

    object_uid: int
    mesh_uid: int  # the object's data: a slot added to a mesh goes, even once its object is deleted
    index: int
    material_uid: int  # the material put in
    previous_uid: int  # the slot's material before (0, which no datablock has: empty)
    added: bool  # the object had no slot: one was added to its mesh

    def __call__(self) -> bool:
        """The slot as it was, if it still shows the material put in (else it is left: someone
        put another there meanwhile); returns whether it was put back."""
        material = find_by_uid(bpy.data.materials, self.material_uid)
        obj = find_by_uid(bpy.data.objects, self.object_uid)
        if self.added:
            # The object's data (a mesh, a curve, ...); a deleted object's mesh keeps the slot, so
            # that is looked for too.
            mesh = obj.data if obj is not None else find_by_uid(bpy.data.meshes, self.mesh_uid)
            if mesh is None or material is None or list(mesh.materials) != [material]:
                return False
            # ``clear`` (not ``pop``, which leaves the object an empty slot) also takes the slot
            # off every object showing the mesh.
            mesh.materials.clear()
            return True
        if (obj is None or material is None or self.index >= len(obj.material_slots)
                or obj.material_slots[self.index].material != material):
            return False
        previous = find_by_uid(bpy.data.materials, self.previous_uid)
        obj.material_slots[self.index].material = previous
        return True

    def again(self) -> SlotBefore | None:
        """Put the material in once more, where this took it out (the object found again);
        returns how to take it back, None when the object or the material is gone."""
        obj = find_by_uid(bpy.data.objects, self.object_uid)
        material = find_by_uid(bpy.data.materials, self.material_uid)
        if obj is None or material is None or self.index >= max(len(obj.material_slots), 1):
            return None
        undo: list = []
        assign_material(obj, material, undo, self.index)
        return undo[0]


def find_by_uid(collection, uid: int):
    """The datablock of ``collection`` (``bpy.data.materials``, ...) whose ``session_uid`` is
    ``uid``, or None: removed, or undone to a state before it was made."""
    return next((block for block in collection if block.session_uid == uid), None)


# ---------------------------------------------------------------------- the whole step


def apply_texture(result: TextureResult, parameters: TextureParameters,
                  target_names: list[str], storage: str,
                  then: Callable[[Applied], None] | None = None, name: str = "") -> Applied:
    """Build image and material(s) from ``result`` and put them on the named objects; they are
    named ``name`` (default: the prompt), a box-mapped second material ``<name> (box)``.

    ``then(applied)`` finishes the material in the same step (the PBR maps) before the history
    entry is written; what it raises undoes the texture too. Raises ``ApplyError`` (with
    everything made so far removed) when no target is left or Blender cannot read the image.
    Deletes nothing: the job's folder is the client's to remove (``session.release``).
    """
    targets, missing = resolve_targets(target_names)
    if not targets:
        raise ApplyError(f"the target object(s) {', '.join(missing)} no longer exist; "
                         "select a mesh and generate again")
    source = base_color_file(result)
    record = result.provenance.to_dict()
    name = datablock_name(name or parameters.prompt)
    created: list = []
    undo: list = []
    try:
        applied = Applied(objects=targets, missing=missing)
        applied.image = load_image(source, name, storage, created)
        applied.materials = put_on(targets, applied.image, name, created, undo)
        complete(applied, parameters, record, then)
    except BaseException:
        roll_back(undo, created)
        raise
    return applied


def put_on(targets: list[bpy.types.Object], image: bpy.types.Image, name: str, created: list,
           undo: list) -> list[bpy.types.Material]:
    """New materials showing ``image`` in the targets' active slots: one named ``name`` for the
    meshes with UVs, box-mapped for those without (``<name> (box)`` when both kinds are there).
    What it makes goes into ``created``, how to take the slots back into ``undo``."""
    by_mapping: dict[bool, bpy.types.Material] = {}
    for obj in targets:
        box = not has_uv_map(obj)
        if box not in by_mapping:
            suffix = BOX_SUFFIX if box and len({has_uv_map(o) for o in targets}) > 1 else ""
            material = build_material(datablock_name(name + suffix), image, box)
            created.append(material)
            by_mapping[box] = material
        assign_material(obj, by_mapping[box], undo)
    return list(by_mapping.values())


def complete(applied: Applied, parameters: TextureParameters, record: dict,
              then: Callable[[Applied], None] | None) -> None:
    """What every applied texture gets last: the record on its image and materials, the maps
    (``then``), the history entry."""
    for idblock in (applied.image, *applied.materials):
        store_provenance(idblock, record)
    if then is not None:
        then(applied)
    add_history(bpy.context.scene, parameters, applied, record)


def base_color_file(result: TextureResult) -> Path:
    path = result.base_color  # checked on receipt: a regular file inside the job's folder
    if not path.is_file():
        raise ApplyError(f"the backend reported {path} but the file is not there; "
                         "check free disk space and generate again")
    return path


def roll_back(undo: list, created: list) -> None:
    """Undo ``undo``'s steps, newest first, then remove what ``created`` lists (files, materials,
    images)."""
    for step in reversed(undo):
        step()
    for thing in reversed(created):
        if isinstance(thing, Path):
            thing.unlink(missing_ok=True)
        elif isinstance(thing, bpy.types.Material):
            bpy.data.materials.remove(thing)
        elif isinstance(thing, bpy.types.Image):
            bpy.data.images.remove(thing)


def add_history(scene: bpy.types.Scene, parameters: TextureParameters, applied: Applied,
                provenance: dict):
    """Record what was made in ``scene.atelier.history`` (public: scripts read these names)."""
    item = scene.atelier.history.add()
    item.name = applied.materials[0].name if applied.materials else parameters.prompt
    for key, value in vars(parameters).items():
        setattr(item, key, value)
    item.engine = _provenance(provenance).engine
    # The first material (a second, "(box)", exists only when UV and UV-less meshes were mixed).
    item.material_name = applied.materials[0].name if applied.materials else ""
    item.image_name = applied.image.name if applied.image is not None else ""
    item.targets = ", ".join(obj.name for obj in applied.objects)
    item.created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    item.provenance = json.dumps(provenance, sort_keys=True)
    scene.atelier.history_index = len(scene.atelier.history) - 1
    return item
