"""A texture put on from the raw pixels sent ahead of its result, then swapped for the PNG.

In the UI the backend hands a texture's pixels over before it encodes the PNG with the record
(``early_pixels``): ``show_early`` puts the material on at once from them, ``finish_early`` swaps
the PNG in when the result comes, ending exactly as ``texture.apply_texture`` would, and
``drop_early`` takes everything off again when the call fails. No saved file ever holds an early
texture (``SAVE_HANDLERS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bpy

from ..client.session import ApplyError
from ..core.results import TextureResult
from .names import datablock_name
from .raw_pixels import fill, read_pixels
from .texture import (
    Applied,
    SlotBefore,
    TextureParameters,
    apply_texture,
    base_color_file,
    colour_texture,
    complete,
    find_by_uid,
    load_image,
    put_on,
    resolve_targets,
    roll_back,
)

# On an early texture's Image and materials until the PNG takes over; a material's holds how to
# put its slots back (``SlotBefore``'s fields), for one an undo brings back after its call ended.
EARLY_MARK = "atelier_early"


@dataclass(eq=False)
class EarlyTexture:
    """A texture put on from the raw pixels sent ahead of its result (``show_early``).

    Held across the operator's timer ticks, while the artist may undo, save or load a file: what
    it made is found again by ``session_uid`` at each use (``find_by_uid``), never held, so an
    undo that re-reads the datablocks leaves them found, and one that removes them is seen.
    What it made stays until ``finish_early`` swaps the PNG in or ``drop_early`` takes it off;
    meanwhile every save takes it off and puts it back (``hide_early_for_save``).
    """

    target_names: list[str]  # the objects it went on, in the order ``resolve_targets`` gave
    image_uid: int = 0  # the early Image (0: nothing of it left to find)
    material_uids: list = field(default_factory=list)  # its materials, as ``put_on`` returned them
    slots: list = field(default_factory=list)  # the targets' slots back as they were (``SlotBefore``)
    unlinked: list = field(default_factory=list)  # (material uid, node name) a save took the Image off


_shown: list[EarlyTexture] = []  # the early textures on now, for the save handlers
_saving: list[EarlyTexture] = []  # those an undo brought back after their call ended, off for a save


def show_early(pixels_file: Path, width: int, height: int, parameters: TextureParameters,
               target_names: list[str], name: str = "") -> EarlyTexture:
    """Put the texture on the named objects now, from a raw ``rgba8`` file: a new Image filled
    with ``foreach_set`` and the materials ``apply_texture`` would make, with the same names,
    mapping and slots; no record yet (``finish_early`` adds it with the PNG). Raises
    ``ApplyError`` or ``OSError`` with nothing made when no target is left or the file cannot be
    read as ``width`` x ``height`` pixels."""
    targets, _missing = resolve_targets(target_names)
    if not targets:
        raise ApplyError(f"the target object(s) {', '.join(target_names)} no longer exist")
    pixels = read_pixels(pixels_file, width, height)
    name = datablock_name(name or parameters.prompt)
    created: list = []
    undo: list = []
    try:
        image = bpy.data.images.new(name, width, height, alpha=True)
        created.append(image)
        colour_texture(image)
        fill(image, pixels)
        materials = put_on(targets, image, name, created, undo)
    except BaseException:
        roll_back(undo, created)
        raise
    early = EarlyTexture(target_names=[obj.name for obj in targets], image_uid=image.session_uid,
                         material_uids=[material.session_uid for material in materials], slots=undo)
    image[EARLY_MARK] = True
    for material in materials:
        material[EARLY_MARK] = [asdict(slot) for slot in undo if slot.material_uid == material.session_uid]
    _shown.append(early)
    return early


def finish_early(early: EarlyTexture, result: TextureResult, parameters: TextureParameters,
                 target_names: list[str], storage: str,
                 then: Callable[[Applied], None] | None = None, name: str = "") -> Applied:
    """``apply_texture`` for a texture ``show_early`` put on: the PNG (with its record) loaded,
    packed or saved as there, the early materials' texture nodes pointed at it and the early
    Image removed, so names, record, maps (``then``) and history end as ``apply_texture`` leaves
    them. When what was shown is not as it was put up any more (an undo or a file load removed
    part of it, a target was deleted, a slot holds another material), it is taken off and
    ``apply_texture`` runs instead. On any failure nothing of the texture stays: the scene is as
    it was before ``show_early``."""
    found, missing = resolve_targets(target_names)
    shown, materials = _made(early)
    if not _still_shown(early, shown, materials, found):
        drop_early(early)
        return apply_texture(result, parameters, target_names, storage, then, name)
    created: list = []
    try:
        source = base_color_file(result)
        image = load_image(source, datablock_name(name or parameters.prompt), storage, created)
        shown_name = shown.name
        for material in materials:
            for node in material.node_tree.nodes:
                if node.type == "TEX_IMAGE" and node.image == shown:
                    node.image = image
        bpy.data.images.remove(shown)
        image.name = shown_name  # free now: the name apply_texture's Image would have had
        applied = Applied(materials=materials, image=image, objects=found, missing=missing)
        for material in materials:
            del material[EARLY_MARK]
        complete(applied, parameters, result.provenance.to_dict(), then)
    except BaseException:
        roll_back([], created)
        drop_early(early)
        raise
    _forget(early)  # the texture's now: nothing of it is dropped any more
    return applied


def _made(early: EarlyTexture) -> tuple[bpy.types.Image | None, list]:
    """The early Image and materials as the file holds them now (None for each one gone)."""
    return (find_by_uid(bpy.data.images, early.image_uid) if early.image_uid else None,
            [find_by_uid(bpy.data.materials, uid) for uid in early.material_uids])


def _still_shown(early: EarlyTexture, image: bpy.types.Image | None, materials: list,
                 found: list[bpy.types.Object]) -> bool:
    """Whether everything ``show_early`` made is there and on the objects it went on."""
    return (image is not None and bool(materials) and None not in materials
            and [obj.name for obj in found] == early.target_names
            and all(obj.active_material in materials for obj in found))


def drop_early(early: EarlyTexture) -> None:
    """Take off everything ``show_early`` made, the slots back as they were; what an undo or a
    file load removed meanwhile is skipped, and a slot given another material meanwhile keeps
    it. Later calls do nothing."""
    image, materials = _made(early)
    slots = early.slots[:]
    _forget(early)
    for slot in reversed(slots):
        slot()
    for material in materials:
        if material is not None:
            bpy.data.materials.remove(material)
    if image is not None:
        bpy.data.images.remove(image)


def _forget(early: EarlyTexture) -> None:
    """``early`` is no longer shown: nothing of it is looked for any more."""
    _shown[:] = [other for other in _shown if other is not early]
    early.image_uid = 0
    early.material_uids, early.slots, early.unlinked = [], [], []


# A generated Image's pixels are never written to a .blend, and the record comes with the PNG:
# a file saved while an early texture shows would hold a black, unrecorded material in place of
# the artist's. So each save is made of the state before the click. That holds too for one an
# undo brings back after its call ended (an edit pushed while it showed, then Ctrl+Z): it is not
# taken off at the undo, since a redo then keeps the slot as the undo left it (Blender reuses
# datablocks it deems unchanged). Autosave runs no handlers, but Blender puts it off while a
# modal operator runs, which the texture call is until its end.


@bpy.app.handlers.persistent
def hide_early_for_save(*_args) -> None:
    """``save_pre``: every early texture off its objects (their slots as before the click) and
    its Image off its materials' nodes: neither has a user left, so the file holds neither."""
    _saving[:] = _brought_back()
    for early in (*_shown, *_saving):
        image, materials = _made(early)
        early.slots = [slot for slot in reversed(early.slots) if slot()][::-1]
        for material in filter(None, materials):
            for node in material.node_tree.nodes:
                if image is not None and node.type == "TEX_IMAGE" and node.image == image:
                    node.image = None
                    early.unlinked.append((material.session_uid, node.name))


@bpy.app.handlers.persistent
def show_early_after_save(*_args) -> None:
    """``save_post`` (and ``save_post_fail``): every early texture back as it was before the save."""
    for early in (*_shown, *_saving):
        image, _materials = _made(early)
        for material_uid, node_name in early.unlinked:
            material = find_by_uid(bpy.data.materials, material_uid)
            node = material.node_tree.nodes.get(node_name) if material is not None else None
            if node is not None and node.image is None:
                node.image = image
        early.unlinked = []
        early.slots = [again for again in (slot.again() for slot in early.slots) if again is not None]
    _saving.clear()


def _brought_back() -> list[EarlyTexture]:
    """Each early material an undo brought back after its call ended, with the early Image it
    shows, as the ``EarlyTexture`` it was: its slots from its mark."""
    live = {uid for early in _shown for uid in early.material_uids}
    found = []
    for material in bpy.data.materials:
        if EARLY_MARK in material and material.session_uid not in live and material.node_tree is not None:
            images = [node.image for node in material.node_tree.nodes if node.type == "TEX_IMAGE"
                      and node.image is not None and EARLY_MARK in node.image]
            found.append(EarlyTexture(target_names=[], image_uid=images[0].session_uid if images else 0,
                                      material_uids=[material.session_uid], slots=_stored_slots(material)))
    return found


def _stored_slots(material: bpy.types.Material) -> list[SlotBefore]:
    """The slots kept in ``material``'s mark; none when it holds something else (a file is
    data: the mark may not be ours)."""
    try:
        slots = [SlotBefore(**stored.to_dict()) for stored in material[EARLY_MARK]]
    except (AttributeError, TypeError):
        return []
    return [slot for slot in slots if all(isinstance(value, int) for value in vars(slot).values())]


SAVE_HANDLERS = (("save_pre", hide_early_for_save), ("save_post", show_early_after_save),
                 ("save_post_fail", show_early_after_save))
