"""The live preview's datablocks: one Image, one temporary material, shown on one object.

The preview is session-only: it is never saved with the file and pushes no undo step. The
material goes into the object's active slot as an object-level override (slot link
``'OBJECT'``), so the mesh and its own materials are never touched; what the slot held before is
remembered and put back exactly when the preview stops. Around every save the preview is taken
off and its datablocks removed (``save_pre``), then put back from the pixels kept here
(``save_post``), so no file ever holds it. Datablocks are found by name at each use, never held:
an undo or a file load may have replaced them.

An undo step made while the preview shows (a panel edit, Generate) holds its Image and material,
and autosaves and quit.blend are written from that state without ``save_pre``. So both carry a
mark (``MARK``; the material's holds what its slot held before), and after every undo, redo and
file load (``drop_stale_preview``) each marked datablock that is not the live preview's is
removed, its slot put back as it was first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import bpy
import numpy as np

from ..client.session import ApplyError
from .raw_pixels import fill
from .texture import build_material, can_hold_material, has_uv_map

PREVIEW_NAME = "Atelier Preview"  # the Image's and the material's name
MARK = "atelier_preview"  # custom property on the preview's Image and material (the slot's state)


@dataclass
class _Slot:
    """What the object's slot held before the preview took it over."""

    object_name: str
    index: int
    link: str  # 'DATA' or 'OBJECT'
    object_material: str  # the object-level material of the slot ('' = none)
    added: bool  # the object had no slot: one was added, and goes again


@dataclass
class _Preview:
    """What the preview shows now and where (session-only: never saved)."""

    target: str = ""  # the object the preview shows on ('' = none)
    slot: _Slot | None = None  # set while the material is on the target
    image_name: str = ""
    material_name: str = ""
    pixels: np.ndarray | None = None  # the last image, float RGBA bottom row first (Blender's order)
    size: tuple[int, int] = (0, 0)
    updates: int = 0  # images shown in this Blender session


_preview = _Preview()


def attach(obj: bpy.types.Object) -> None:
    """Show the preview on ``obj`` from the next image on (``show``)."""
    if not can_hold_material(obj):
        raise ApplyError(f"{obj.name!r} cannot hold a material; select a mesh object")
    _restore_slot()
    _preview.target = obj.name


def show(pixels: np.ndarray, width: int, height: int) -> None:
    """Put ``pixels`` (``raw_pixels.read_pixels``' layout) into the preview Image and the
    material on the target object; the one Image is reused (scaled when the size changes)."""
    _preview.pixels, _preview.size = pixels, (width, height)
    _preview.updates += 1
    image = _image(width, height)
    fill(image, pixels)
    _put_on_target(_material(image))


def is_shown() -> bool:
    """Whether the preview material is on an object now."""
    return _preview.slot is not None


def updates() -> int:
    """How many images the preview has shown (saves included): a change says an image went in."""
    return _preview.updates


def detach() -> None:
    """Stop: the object's slot as it was, the Image and the material removed, nothing kept."""
    _take_off()
    _preview.target = ""
    _preview.pixels, _preview.size = None, (0, 0)


# ---------------------------------------------------------------------- saving


@bpy.app.handlers.persistent
def hide_for_save(*_args) -> None:
    """``save_pre``: no file ever holds the preview (the pixels stay here)."""
    _take_off()


@bpy.app.handlers.persistent
def show_after_save(*_args) -> None:
    """``save_post``: the preview back on as it was before the save."""
    if _preview.target and _preview.pixels is not None:
        show(_preview.pixels, *_preview.size)


# ---------------------------------------------------------------------- the datablocks


@bpy.app.handlers.persistent
def drop_stale_preview(*_args) -> None:
    """``undo_post``, ``redo_post``, ``load_post``: remove every marked preview datablock that
    is not the live preview's, its slot put back from the state stored in its mark; while the
    preview is on, the newest image goes back on the object (the undo may have taken it off)."""
    live_material = _live(bpy.data.materials, _preview.material_name)
    live_image = _live(bpy.data.images, _preview.image_name)
    for material in [m for m in bpy.data.materials if MARK in m and m != live_material]:
        saved = _stored_slot(material)
        obj = bpy.data.objects.get(saved.object_name) if saved is not None else None
        if obj is not None and _holds(obj, saved.index, material):
            _put_back(saved, material.name)
        bpy.data.materials.remove(material)
    for image in [i for i in bpy.data.images if MARK in i and i != live_image]:
        bpy.data.images.remove(image)
    _preview.material_name = live_material.name if live_material is not None else ""
    _preview.image_name = live_image.name if live_image is not None else ""
    target = bpy.data.objects.get(_preview.target) if _preview.target else None
    if _preview.slot is not None and (target is None or live_material is None
                                      or not _holds(target, _preview.slot.index, live_material)):
        _preview.slot = None  # the undo put the slot back itself: remembered anew at the next image
    if target is not None and _preview.pixels is not None:
        show(_preview.pixels, *_preview.size)


def _stored_slot(material: bpy.types.Material) -> _Slot | None:
    """The slot state kept in ``material``'s mark; None when it holds none (the material never
    went on an object) or one of the wrong shape (a file is data: the mark may not be ours)."""
    try:
        saved = _Slot(**material[MARK].to_dict())
    except (AttributeError, TypeError):
        return None
    shaped = (isinstance(saved.object_name, str) and isinstance(saved.index, int) and saved.index >= 0
              and saved.link in ("DATA", "OBJECT") and isinstance(saved.object_material, str))
    return saved if shaped else None


def _live(collection, name: str):
    """The live preview's datablock of ``collection`` named ``name``, or None (preview off)."""
    found = collection.get(name) if name and _preview.target else None
    return found if found is not None and MARK in found else None


def _holds(obj: bpy.types.Object, index: int, material: bpy.types.Material) -> bool:
    """Whether slot ``index`` of ``obj`` shows ``material`` as its object-level material."""
    return (index < len(obj.material_slots) and obj.material_slots[index].link == "OBJECT"
            and obj.material_slots[index].material == material)


def _take_off() -> None:
    _restore_slot()
    material = bpy.data.materials.get(_preview.material_name) if _preview.material_name else None
    if material is not None:
        bpy.data.materials.remove(material)
    image = bpy.data.images.get(_preview.image_name) if _preview.image_name else None
    if image is not None:
        bpy.data.images.remove(image)
    _preview.image_name = _preview.material_name = ""


def _image(width: int, height: int) -> bpy.types.Image:
    image = bpy.data.images.get(_preview.image_name) if _preview.image_name else None
    if image is None:
        image = bpy.data.images.new(PREVIEW_NAME, width, height, alpha=True)
        image[MARK] = True
        _preview.image_name = image.name  # another datablock may already hold the plain name
    elif tuple(image.size) != (width, height):
        image.scale(width, height)
    return image


def _material(image: bpy.types.Image) -> bpy.types.Material:
    material = bpy.data.materials.get(_preview.material_name) if _preview.material_name else None
    if material is None:
        obj = bpy.data.objects.get(_preview.target)
        material = build_material(PREVIEW_NAME, image, box_projection=obj is not None and not has_uv_map(obj))
        material[MARK] = {}  # the slot's state once it is on an object
        _preview.material_name = material.name
    return material


def _put_on_target(material: bpy.types.Material) -> None:
    """The material into the target's active slot as an object-level override; the slot's
    previous state is remembered once, when the preview first goes on."""
    obj = bpy.data.objects.get(_preview.target) if _preview.target else None
    if obj is None:  # deleted meanwhile: the Image still updates, nothing shows it
        _preview.slot = None
        return
    if _preview.slot is not None and _placed_meanwhile(obj, _preview.slot, material.name) is not None:
        _restore_slot()  # that material goes where it belongs; the preview goes on over it anew
    if _preview.slot is None:
        added = len(obj.material_slots) == 0
        if added:
            obj.data.materials.append(None)
        index = obj.active_material_index if not added else 0
        slot = obj.material_slots[index]
        link = slot.link
        slot.link = "OBJECT"  # the object-level material is readable only through this link
        previous = slot.material
        _preview.slot = _Slot(obj.name, index, link, previous.name if previous else "", added)
        material[MARK] = asdict(_preview.slot)  # what an undo step holding the material puts back
    slot = obj.material_slots[_preview.slot.index]
    if slot.material != material:
        slot.link = "OBJECT"
        slot.material = material


def _restore_slot() -> None:
    saved, _preview.slot = _preview.slot, None
    if saved is not None:
        _put_back(saved, _preview.material_name)


def _put_back(saved: _Slot, preview_material: str) -> None:
    """Slot ``saved.index`` of ``saved``'s object as it was before the preview material
    ``preview_material`` took it over, or with what was placed there meanwhile."""
    obj = bpy.data.objects.get(saved.object_name)
    if obj is None or saved.index >= len(obj.material_slots):
        return  # the object or its slot went meanwhile: nothing to put back
    placed = _placed_meanwhile(obj, saved, preview_material)
    slot = obj.material_slots[saved.index]
    slot.link = "OBJECT"
    slot.material = bpy.data.materials.get(saved.object_material) if saved.object_material else None
    slot.link = saved.link
    if placed is not None:
        slot.material = placed  # where it would have gone without the preview: the slot's own link
    elif saved.added:
        # The operator, not ``mesh.materials.pop``: that leaves the object's own slot behind.
        obj.active_material_index = saved.index
        with bpy.context.temp_override(object=obj):
            try:
                bpy.ops.object.material_slot_remove()
            except RuntimeError:  # refused in Edit Mode: an empty slot stays, which changes nothing shown
                pass


def _placed_meanwhile(obj: bpy.types.Object, saved: _Slot,
                      preview_material: str) -> bpy.types.Material | None:
    """A material put into the preview's slot while the preview showed (Generate's new texture:
    assigning to the active slot sets the object-level material the preview holds), or None."""
    if saved.index >= len(obj.material_slots):
        return None
    slot = obj.material_slots[saved.index]
    if slot.link != "OBJECT" or slot.material is None or slot.material.name == preview_material:
        return None
    return slot.material
