"""Colour-scheme settings and the names and roles of generated palettes (``Scene.atelier``).

Public for scripts:

- ``scene.atelier.palettes``: one ``PaletteInfo`` per palette Atelier made, keyed by the
  ``bpy.types.Palette``'s name (``scene.atelier.palettes[palette.name]``). ``info.colors[i]``
  describes ``palette.colors[i]``: ``hex`` (display sRGB when made), ``label`` (its name) and
  ``role`` (background, primary, secondary, accent, highlight, shadow). ``PaletteColor``
  itself holds only a colour, so names and roles live here. Renaming the palette in Blender
  loses the link; the palette then applies by colour order.
- ``scene.atelier.palette``: the Colour Scheme panel's inputs.
"""

import bpy

from ..core import protocol
from ..core.colors import HARMONY_RULES, MAX_COLORS, MIN_COLORS, ROLE_DETAILS
from .fields import bounds
from .style import style_field

# Menus built from core's lists, in their order (Blender stores a menu choice by its position).
ROLE_ITEMS = [(role, role.title(), detail.meaning[0].upper() + detail.meaning[1:])
              for role, detail in ROLE_DETAILS.items()]
HARMONY_ITEMS = [(rule.upper(), rule.replace("_", " ").title(), detail.description)
                 for rule, detail in HARMONY_RULES.items()]
# The panel's words for each of protocol.PALETTE_SOURCES (a test checks they name the same sources).
SOURCE_TEXTS = {
    "prompt": ("Prompt", "The text model writes a scheme for the prompt"),
    "prompt_image": ("Prompt via Image", "The texture model paints the prompt; its colours are taken"),
    "image": ("Image", "The dominant colours of an image"),
    "harmony": ("Harmony", "A colour-harmony rule around a base colour"),
}
SOURCE_ITEMS = [(source.upper(), *SOURCE_TEXTS[source]) for source in protocol.PALETTE_SOURCES]
# Sources the built-in engine can serve inside Blender when the text model is 'builtin'.
BUILTIN_SOURCES = ("PROMPT", "HARMONY")
SCOPE_ITEMS = [
    ("SELECTED", "Selected", "Materials of the selected objects (and selected lights)"),
    ("SCENE", "Scene", "Materials of every object in the scene (and all its lights)"),
]
SHARED_ITEMS = [
    ("COPY", "Copy", "A material also used outside the scope is copied for the objects in scope"),
    ("SKIP", "Skip", "A material also used outside the scope is left as it is"),
]


def generation_fields(*, hard: bool) -> dict:
    """What a colour scheme is made from: the panel's inputs and the operator's arguments
    (``hard``: clamp to the limits; see ``fields``)."""
    return {
        "source": bpy.props.EnumProperty(name="Source", description="Where the colours come from",
                                         items=SOURCE_ITEMS, default=protocol.PaletteRequest.source.upper()),
        "prompt": bpy.props.StringProperty(name="Prompt", description="Mood or subject, e.g. 'rainy "
                                           "neon alley' (PROMPT, PROMPT_IMAGE)"),
        "style": style_field(),  # PROMPT_IMAGE: the style of the picture painted from the prompt
        "image": bpy.props.StringProperty(name="Image", description="Image datablock name or image "
                                          "file path (IMAGE)"),
        "count": bpy.props.IntProperty(name="Colours", default=protocol.PaletteRequest.count,
                                       **bounds(MIN_COLORS, MAX_COLORS, hard=hard),
                                       description=f"How many colours ({MIN_COLORS} to {MAX_COLORS})"),
        "harmony": bpy.props.EnumProperty(name="Harmony", description="Colour-harmony rule (HARMONY)",
                                          items=HARMONY_ITEMS, default="COMPLEMENTARY"),
        "base_color": bpy.props.FloatVectorProperty(
            name="Base Colour", description="Display colour the rule starts from (HARMONY)",
            subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0, default=(0.2, 0.4, 0.8)),
    }


def application_fields() -> dict:
    """How a palette is applied: the panel's choices and the apply operator's arguments."""
    return {
        "scope": bpy.props.EnumProperty(name="Scope", description="Which materials to recolour",
                                        items=SCOPE_ITEMS, default="SELECTED"),
        "shared": bpy.props.EnumProperty(
            name="Shared Materials", description="What to do with materials also used outside the scope",
            items=SHARED_ITEMS, default="COPY"),
        "include_world": bpy.props.BoolProperty(name="World", description="Set the world colour too"),
        "include_lights": bpy.props.BoolProperty(name="Lights", description="Set the light colours too"),
    }


class PaletteColorInfo(bpy.types.PropertyGroup):
    """Name and role of one colour of a palette (same index as in ``Palette.colors``)."""

    hex: bpy.props.StringProperty(name="Hex", description="Display (sRGB) colour when made, #rrggbb")
    label: bpy.props.StringProperty(name="Name", description="The colour's name")
    role: bpy.props.EnumProperty(name="Role", description="What the colour is for", items=ROLE_ITEMS,
                                 default="secondary")


class PaletteInfo(bpy.types.PropertyGroup):
    """What Atelier knows about one palette; ``name`` is the palette's name."""

    title: bpy.props.StringProperty(name="Title", description="The scheme's title")
    source: bpy.props.StringProperty(name="Source", description="How it was made")
    colors: bpy.props.CollectionProperty(type=PaletteColorInfo)
    provenance: bpy.props.StringProperty(name="Provenance",
                                         description="How the scheme was made (JSON record)")


class PaletteSettings(bpy.types.PropertyGroup):
    """The Colour Scheme panel's values."""

    __annotations__ = {
        **generation_fields(hard=True),
        "palette": bpy.props.PointerProperty(name="Palette", description="The palette to show and apply",
                                             type=bpy.types.Palette),
        **application_fields(),
    }


classes = (PaletteColorInfo, PaletteInfo, PaletteSettings)
register, unregister = bpy.utils.register_classes_factory(classes)
