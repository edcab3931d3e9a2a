"""Texture section of the Atelier tab: prompt, style, size, steps, seed, seamless, maps, Generate,
history; then the active material's maps: their strengths, Derive Maps and Export."""

import bpy

from .. import preferences
from ..apply import pbr_material
from ..client.session import ApplyError
from ..operators import live_preview
from .sidebar import SectionPanel, draw_job_button

# The texture settings a style may supply (core.styles.DEFAULT_KEYS that a texture has).
STYLE_SETTINGS = ("steps", "guidance", "seamless")


class ATELIER_UL_texture_history(bpy.types.UIList):
    """Textures made in this file, newest last"""

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0,
                  flt_flag=0):
        layout.label(text=item.name or item.prompt, icon="MATERIAL")
        layout.label(text=f"seed {item.seed}")


class ATELIER_PT_texture(SectionPanel, bpy.types.Panel):
    """Generate a texture from a prompt and apply it as a material"""

    bl_idname = "ATELIER_PT_texture"
    bl_label = "Texture"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.atelier.texture
        layout.prop(settings, "prompt", text="")
        layout.prop(settings, "negative_prompt", text="Avoid")
        layout.prop(settings, "style", icon="BRUSHES_ALL")
        row = layout.row(align=True)
        row.prop(settings, "width")
        row.prop(settings, "height")
        row = layout.row(align=True)
        row.prop(settings, "steps")
        row.prop(settings, "guidance")
        layout.prop(settings, "seed")
        layout.prop(settings, "seamless")
        prefs = preferences.addon_preferences()
        if prefs is not None:  # the maps every new texture gets: the 'Default Maps' preference
            layout.label(text=f"Maps ({preferences.resolved_maps_model()})")
            layout.row(align=True).prop(prefs, "default_maps", expand=True)

        builtin = preferences.resolved_model("texture") == preferences.BUILTIN
        op = draw_job_button(layout, context, "atelier.generate_texture", "Generate", "SHADING_TEXTURE",
                             builtin=builtin, model_kind="texture")
        if op is not None:
            for name in ("prompt", "negative_prompt", "width", "height", "seed", "style"):
                setattr(op, name, getattr(settings, name))
            # A setting the artist has not touched stays unpassed, so the style's default applies.
            for name in STYLE_SETTINGS:
                if settings.is_property_set(name):
                    setattr(op, name, getattr(settings, name))
        # On: a quick preview on the selected object follows the prompt, seed, style and steps.
        previewing = live_preview.is_on()
        toggle = layout.operator("atelier.live_preview", text="Live Preview", icon="HIDE_OFF",
                                 depress=previewing)
        toggle.enable = not previewing

        history = context.scene.atelier.history
        if len(history):
            layout.label(text="History")
            layout.template_list("ATELIER_UL_texture_history", "", context.scene.atelier, "history",
                                 context.scene.atelier, "history_index", rows=3)
            row = layout.row(align=True)
            row.operator("atelier.texture_history_apply", icon="MATERIAL")
            regenerate = row.row(align=True)
            regenerate.enabled = not context.window_manager.atelier.running  # one job at a time
            regenerate.operator("atelier.texture_history_regenerate", icon="FILE_REFRESH")
        # Procedural (built-in) materials become image maps for export here.
        layout.operator("atelier.bake_material", icon="RENDER_STILL")
        draw_material_maps(layout, context)


def draw_material_maps(layout, context: bpy.types.Context) -> None:
    """The active material's maps: their strengths (node values), Derive Maps and Export."""
    obj = context.active_object
    material = obj.active_material if obj is not None else None
    if material is None:
        return
    try:
        pbr_material.base_texture(material)
    except ApplyError:
        return  # no picture on its Base Color: nothing to derive maps from
    box = layout.box()
    box.label(text=f"Maps of {material.name}", icon="NODE_MATERIAL")
    for label, socket in pbr_material.strength_inputs(material):
        box.prop(socket, "default_value", text=label)
    if material.node_tree.nodes.get(pbr_material.NODE_NAMES["displacement"]) is not None:
        box.prop(material, "displacement_method", text="Displacement")
    classic = preferences.resolved_maps_model() == preferences.CLASSIC
    draw_job_button(box, context, "atelier.derive_maps", "Derive Maps", "MOD_NORMALEDIT",
                    builtin=classic, model_kind=None)
    export = box.operator("atelier.export_material", icon="EXPORT")
    if export is not None:
        export.material = material.name


classes = (ATELIER_UL_texture_history, ATELIER_PT_texture)
register, unregister = bpy.utils.register_classes_factory(classes)
