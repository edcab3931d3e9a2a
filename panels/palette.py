"""Colour Scheme section of the Atelier tab: source inputs, Generate, swatches, Apply, Export."""

import bpy

from .. import preferences
from ..apply import origin
from ..apply import palette as apply_palette
from ..properties.palette import BUILTIN_SOURCES
from .sidebar import SectionPanel, draw_job_button, draw_wrapped

_GENERATE = "atelier.generate_palette"


class ATELIER_PT_palette(SectionPanel, bpy.types.Panel):
    """Make colour schemes and recolour the scene with them"""

    bl_idname = "ATELIER_PT_palette"
    bl_label = "Colour Scheme"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.atelier.palette
        layout.prop(settings, "source")
        if settings.source in ("PROMPT", "PROMPT_IMAGE"):
            layout.prop(settings, "prompt", text="")
        if settings.source == "PROMPT_IMAGE":  # the style of the picture painted from the prompt
            layout.prop(settings, "style", icon="BRUSHES_ALL")
        elif settings.source == "IMAGE":
            layout.prop_search(settings, "image", bpy.data, "images", text="Image")
        else:
            layout.prop(settings, "harmony")
            layout.prop(settings, "base_color")
        layout.prop(settings, "count")

        # The text model's 'builtin' setting is the one way round a missing backend, for some sources.
        has_builtin = settings.source in BUILTIN_SOURCES
        builtin = has_builtin and preferences.resolved_model("text") == preferences.BUILTIN
        op = draw_job_button(layout, context, _GENERATE, "Generate", "COLOR", builtin=builtin,
                             model_kind="text" if has_builtin else None,
                             text_server=settings.source == "PROMPT")
        if op is not None:
            for name in ("source", "prompt", "image", "count", "harmony", "base_color"):
                setattr(op, name, getattr(settings, name))
            if settings.source == "PROMPT_IMAGE":
                op.style = settings.style

        layout.template_ID(settings, "palette")
        palette = settings.palette
        if palette is None:
            return
        _draw_swatches(layout, context.scene, palette)
        layout.prop(settings, "scope", expand=True)
        row = layout.row(align=True)
        row.prop(settings, "include_world", toggle=True)
        row.prop(settings, "include_lights", toggle=True)
        layout.prop(settings, "shared")
        row = layout.row(align=True)
        op = row.operator("atelier.apply_palette", icon="BRUSH_DATA")
        op.palette = palette.name
        for name in ("scope", "include_world", "include_lights", "shared"):
            setattr(op, name, getattr(settings, name))
        row.operator("atelier.export_palette", text="", icon="EXPORT").palette = palette.name


def _draw_swatches(layout, scene, palette) -> None:
    """One row per colour: an editable swatch, its name and role (from ``scene.atelier.palettes``)."""
    column = layout.column(align=True)
    try:
        swatches = apply_palette.swatches_of(scene, palette)
    except apply_palette.PaletteError as exc:  # a colour a script made NaN: the fields to fix it
        draw_wrapped(layout, str(exc))
        for color in palette.colors:
            column.prop(color, "color", text="")
        return
    for color, swatch in zip(palette.colors, swatches, strict=True):
        row = column.row(align=True)
        row.prop(color, "color", text="")
        row.label(text=swatch.label or swatch.hex)
        if swatch.role:
            row.label(text=swatch.role)
    info = scene.atelier.palettes.get(palette.name)
    if info is not None:
        draw_wrapped(layout, f"Made by {origin.describe(info.provenance)}")


classes = (ATELIER_PT_palette,)
register, unregister = bpy.utils.register_classes_factory(classes)
