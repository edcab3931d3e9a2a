"""Texture settings and history, saved with the .blend in ``Scene.atelier``.

Public for scripts: ``scene.atelier.history`` lists every texture Atelier made, newest last;
``item.material_name`` and ``item.image_name`` name the datablocks it created, ``item.maps``
its PBR maps (``properties/maps.py``).
"""

import bpy

from ..core import limits
from ..core.families import SIZE_MULTIPLE
from .fields import bounds, seed_field
from .maps import TextureMapItem
from .style import style_field

# The panel's words for each of core.protocol.SEAMLESS_MODES, in the menu's order (Blender stores a
# choice by its position, so this order stays; a test checks they name the same modes).
SEAMLESS_TEXTS = {
    "xy": ("Both", "Tiles left-right and top-bottom"),
    "x": ("Horizontal", "Tiles left-right only"),
    "y": ("Vertical", "Tiles top-bottom only"),
    "off": ("Off", "No tiling"),
}
SEAMLESS_ITEMS = [(mode.upper(), *texts) for mode, texts in SEAMLESS_TEXTS.items()]
# What made a history entry's image: a new texture, or a new version of the previous image.
HISTORY_KINDS = [
    ("GENERATE", "Generate", "A new texture from the prompt"),
    ("REFINE", "Refine", "A new version of the previous image by image-to-image"),
    ("INPAINT", "Inpaint", "The previous image with the masked part repainted"),
    ("UPSCALE", "Upscale", "The previous image made larger with added detail"),
    ("PROJECT", "Project", "Painted onto its mesh from several views and baked into its UV map"),
]
# Sizes every texture model family accepts are multiples of SIZE_MULTIPLE; the arrows step 4 of them.
SIZE_STEP = 4 * SIZE_MULTIPLE


def texture_fields(*, hard: bool) -> dict:
    """The generation parameters, shared by the panel settings, history and the operator
    (``hard``: clamp to the limits; see ``fields``)."""
    return {
        "prompt": bpy.props.StringProperty(name="Prompt", description="What the texture shows"),
        "negative_prompt": bpy.props.StringProperty(
            name="Negative Prompt", description="What the texture should not show"),
        "width": bpy.props.IntProperty(name="Width", description=f"Image width in pixels (multiple of "
                                       f"{SIZE_MULTIPLE})", default=512, step=SIZE_STEP,
                                       **bounds(limits.MIN_SIZE, limits.DEFAULT_MAX_SIZE, hard=hard)),
        "height": bpy.props.IntProperty(name="Height", description=f"Image height in pixels (multiple of "
                                        f"{SIZE_MULTIPLE})", default=512, step=SIZE_STEP,
                                        **bounds(limits.MIN_SIZE, limits.DEFAULT_MAX_SIZE, hard=hard)),
        "steps": bpy.props.IntProperty(name="Steps", description="Denoising steps (0 = the model's "
                                       "recommended value)", default=0,
                                       **bounds(0, limits.DEFAULT_MAX_STEPS, hard=hard)),
        "guidance": bpy.props.FloatProperty(name="Guidance", description="How closely to follow the "
                                            "prompt (0 = the model's recommended value)",
                                            default=0.0, **bounds(0.0, 30.0, hard=hard)),
        "seed": seed_field(hard=hard),
        "seamless": bpy.props.EnumProperty(name="Seamless", description="Make the image tile",
                                           items=SEAMLESS_ITEMS, default="XY"),
        "style": style_field(),
    }


# The panel settings a live preview follows: a change to one sends a new preview.
LIVE_PREVIEW_FIELDS = ("prompt", "seed", "style", "steps")


def _live_preview_update(settings, context: bpy.types.Context) -> None:
    """Send a live preview of the changed settings (when the preview is on)."""
    from ..operators import live_preview  # operators import properties: a module-level import would circle

    live_preview.settings_changed(settings, context)


def _with_update(fields: dict, names: tuple[str, ...], update) -> dict:
    """``fields`` with ``update`` set on the properties ``names`` (only the panel's settings get
    it: the history and the operator share the same fields but send no previews)."""
    return {name: prop.function(**{**prop.keywords, "update": update}) if name in names else prop
            for name, prop in fields.items()}


class TextureSettings(bpy.types.PropertyGroup):
    """The Texture panel's values (what the Generate button sends)."""

    __annotations__ = _with_update(texture_fields(hard=True), LIVE_PREVIEW_FIELDS, _live_preview_update)


class TextureHistoryItem(bpy.types.PropertyGroup):
    """One generated texture: its parameters (seed resolved) and the datablocks it made."""

    __annotations__ = {
        **texture_fields(hard=True),
        "model": bpy.props.StringProperty(name="Model", description="Model that made it"),
        "engine": bpy.props.StringProperty(name="Engine", description="Engine that made it"),
        "material_name": bpy.props.StringProperty(name="Material", description="Material created"),
        "image_name": bpy.props.StringProperty(name="Image", description="Image created"),
        "targets": bpy.props.StringProperty(
            name="Targets", description="Objects the material was put on (comma separated)"),
        "created": bpy.props.StringProperty(name="Created", description="When (UTC, ISO 8601)"),
        "provenance": bpy.props.StringProperty(
            name="Provenance", description="The backend's provenance record (JSON)"),
        "maps": bpy.props.CollectionProperty(
            type=TextureMapItem, description="The PBR maps of the material, each with what made it"),
        "maps_provenance": bpy.props.StringProperty(
            name="Maps Provenance", description="How the maps were made: the provenance record (JSON)"),
        "kind": bpy.props.EnumProperty(
            name="Kind", description="How the image was made", items=HISTORY_KINDS, default="GENERATE"),
        "previous_image": bpy.props.PointerProperty(
            type=bpy.types.Image, name="Previous Image",
            description="The picture this version was made from (kept with the .blend)"),
        "strength": bpy.props.FloatProperty(
            name="Strength", description="How much of the previous picture was repainted (0 when "
                                         "generated from scratch)", min=0.0, max=1.0),
    }


classes = (TextureSettings, TextureHistoryItem)
register, unregister = bpy.utils.register_classes_factory(classes)
