"""Texture section of the Atelier tab: prompt, size, steps, seed, seamless, Generate, history."""

import textwrap

import bpy

from .. import preferences
from .sidebar import SectionPanel

WRAP = 48  # characters per line of wrapped text in the sidebar


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
        state = context.window_manager.atelier
        layout.prop(settings, "prompt", text="")
        layout.prop(settings, "negative_prompt", text="Avoid")
        row = layout.row(align=True)
        row.prop(settings, "width")
        row.prop(settings, "height")
        row = layout.row(align=True)
        row.prop(settings, "steps")
        row.prop(settings, "guidance")
        layout.prop(settings, "seed")
        layout.prop(settings, "seamless")

        mine = state.running and state.job_operator == "atelier.generate_texture"
        if mine:
            row = layout.row(align=True)
            row.progress(factor=state.progress, type="BAR", text=state.stage)
            row.operator("atelier.cancel_job", text="Cancel", icon="CANCEL")
        else:
            row = layout.row()
            row.enabled = not state.running  # one job at a time; the other one shows above
            builtin = preferences.resolved_model("texture") == preferences.BUILTIN
            op = row.operator("atelier.generate_texture",
                              text="Generate (built-in)" if builtin else "Generate", icon="SHADING_TEXTURE")
            for name in ("prompt", "negative_prompt", "width", "height", "steps", "guidance", "seed",
                         "seamless"):
                setattr(op, name, getattr(settings, name))
        if state.last_error and state.last_error_operator == "atelier.generate_texture":
            box = layout.box()
            box.label(text="Last error:", icon="ERROR")
            # Panel labels do not wrap: split long messages at spaces.
            for line in textwrap.wrap(state.last_error, WRAP):
                box.label(text=line)

        history = context.scene.atelier.history
        if len(history):
            layout.label(text="History")
            layout.template_list("ATELIER_UL_texture_history", "", context.scene.atelier, "history",
                                 context.scene.atelier, "history_index", rows=3)
            row = layout.row(align=True)
            row.operator("atelier.texture_history_apply", icon="MATERIAL")
            row.operator("atelier.texture_history_regenerate", icon="FILE_REFRESH")


classes = (ATELIER_UL_texture_history, ATELIER_PT_texture)
register, unregister = bpy.utils.register_classes_factory(classes)
