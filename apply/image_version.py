"""A new version of a picture on its materials: what refine, inpaint and upscale results do.

The result file becomes a new Image named "<old> v2" ("v3", ... after that), packed or saved
per the 'Image Storage' preference like a generated texture; every Image Texture node of the
given materials that showed the old picture shows the new one. A history entry records the step
and points at the old picture (its ``previous_image``), so the old picture stays in the .blend,
saved and reloaded. To go back: Ctrl+Z right after the step, or later pick the history entry's
previous image in the Image Texture node. Runs inside one operator call: one undo step. On any
failure everything made so far is removed again and the materials show the old picture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from ..client.session import ApplyError
from . import texture as apply_texture
from .names import MAX_NAME_BYTES
from .uv_unwrap import users_of

# " v2", " v12" at the end of a name: the version number a new version counts up from.
VERSION_SUFFIX = re.compile(r" v(\d+)$")


@dataclass
class Version:
    """What made the new version, for the history (``kind``: 'REFINE', 'INPAINT', 'UPSCALE')."""

    kind: str
    parameters: apply_texture.TextureParameters
    strength: float = 0.0


@dataclass
class NewVersion:
    """What one new version changed, for the report."""

    image: bpy.types.Image
    previous: bpy.types.Image
    materials: list = field(default_factory=list)
    objects: list = field(default_factory=list)


def version_name(old_name: str) -> str:
    """'<old> v2' for a first version, 'brick v3' after 'brick v2'; the next free number, with
    the stem cut so the suffix always fits in a datablock name."""
    match = VERSION_SUFFIX.search(old_name)
    stem = old_name[:match.start()] if match else old_name
    number = int(match.group(1)) + 1 if match else 2
    while True:
        suffix = f" v{number}"
        room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
        name = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip() + suffix
        if name not in bpy.data.images:
            return name
        number += 1


def showing(material: bpy.types.Material, image: bpy.types.Image) -> list[bpy.types.Node]:
    """The Image Texture nodes of ``material`` that show ``image``."""
    if material.node_tree is None:
        return []
    return [node for node in material.node_tree.nodes
            if node.bl_idname == "ShaderNodeTexImage" and node.image == image]


def put_new_version(scene: bpy.types.Scene, materials: list[bpy.types.Material],
                    old_image: bpy.types.Image, result_file: Path, record: dict, version: Version,
                    storage: str) -> NewVersion:
    """Load ``result_file`` as the next version of ``old_image`` and show it on ``materials``.

    ``record`` is the result's provenance (``Provenance.to_dict()``), stored on the new image.
    Raises ``ApplyError`` with nothing changed when the file is missing or unreadable, or when
    a material no longer shows the old picture. Deletes nothing: the job's folder is the
    client's to remove (``session.release``)."""
    if not result_file.is_file():
        raise ApplyError(f"the backend reported {result_file} but the file is not there; "
                         "check free disk space and run it again")
    for material in materials:
        if not showing(material, old_image):
            raise ApplyError(f"material {material.name!r} no longer shows the image {old_image.name!r}; "
                             "nothing was changed")
    created: list = []
    undo: list = []
    try:
        image = apply_texture.load_image(result_file, version_name(old_image.name), storage, created)
        apply_texture.store_provenance(image, record)
        for material in materials:
            for node in showing(material, old_image):
                node.image = image
                undo.append(lambda node=node: setattr(node, "image", old_image))
        made = NewVersion(image=image, previous=old_image, materials=list(materials),
                          objects=[obj for material in materials for obj in users_of(material)])
        _add_history(scene, made, record, version)
    except BaseException:
        apply_texture.roll_back(undo, created)
        raise
    return made


def _add_history(scene: bpy.types.Scene, made: NewVersion, record: dict, version: Version) -> None:
    """A history entry for the new version; it holds the previous picture (a user of it)."""
    history = scene.atelier.history
    count = len(history)
    applied = apply_texture.Applied(materials=made.materials, image=made.image, objects=made.objects)
    try:
        item = apply_texture.add_history(scene, version.parameters, applied, record)
        item.name = made.image.name
        item.kind = version.kind
        item.previous_image = made.previous
        item.strength = version.strength
    except BaseException:
        if len(history) > count:
            history.remove(count)
        raise
