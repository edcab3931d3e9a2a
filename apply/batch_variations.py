"""Put the variations of one batch item on its objects: the first on the objects, every other
kept as a material of its own, all of them in the texture history as '<material> v1' .. 'vN'.

Each variation is applied by ``apply/texture.py`` like any generated texture (image, material,
provenance, history; its ``then`` finishes the maps); a variation that is not the applied one
is then taken off the objects again, keeps a fake user so it is saved with the .blend, and its
history entry names no objects. One item with a single variation is named as a generated
texture is (its prompt), with no number.
"""

from __future__ import annotations

from collections.abc import Callable

import bpy

from ..core.batch import variation_name
from ..core.results import TextureResult
from . import texture as apply_texture
from .names import MAX_NAME_BYTES, datablock_name

# A variation's name leaves room for the ' (box)' of a second material and Blender's '.001',
# so neither cuts its number off.
_NAME_ROOM = MAX_NAME_BYTES - len(apply_texture.BOX_SUFFIX.encode("utf-8")) - len(".001")


def variation_label(prompt: str, number: int, count: int) -> str:
    """The name variation ``number`` of ``count`` of a texture from ``prompt`` is given."""
    if count <= 1:
        return datablock_name(prompt)
    return variation_name(datablock_name(prompt), number, count, _NAME_ROOM)


class Variations:
    """The variations of one item, applied one by one as their results are ready."""

    def __init__(self, count: int, target_names: list[str], storage: str) -> None:
        self.count = count
        self.target_names = target_names
        self.storage = storage
        # Which material each object got from the applied variation (the first that succeeded).
        self._shown: dict[str, bpy.types.Material] | None = None

    def apply(self, number: int, result: TextureResult, parameters: apply_texture.TextureParameters,
              then: Callable[[apply_texture.Applied], None] | None = None) -> apply_texture.Applied:
        """Apply variation ``number`` (1-based); raises ``ApplyError`` with nothing changed.

        Call them in order of ``number``: the first one applied stays on the objects. A name
        taken already (an earlier batch's 'brick v1') gets Blender's number ('brick v1.001'),
        and the history entry records the name it got."""
        name = variation_label(parameters.prompt, number, self.count)
        applied = apply_texture.apply_texture(result, parameters, self.target_names, self.storage, then=then,
                                              name=name)
        entry = bpy.context.scene.atelier.history[-1]  # the entry apply_texture just wrote
        if self._shown is None:
            self._shown = {obj.name: obj.active_material for obj in applied.objects}
            return applied
        for obj in applied.objects:  # the applied variation goes back on
            shown = self._shown.get(obj.name)
            if shown is not None:
                obj.active_material = shown
        for material in applied.materials:
            material.use_fake_user = True  # on no object, yet kept in the .blend with its history
        entry.targets = ""
        applied.objects = []
        return applied

