"""Project section of the Atelier tab: paint the selected meshes from several views (prompt,
views, sizes, Project), and restyle the render or the viewport with the same prompt."""

import bpy

from .sidebar import SectionPanel, draw_job_button, draw_wrapped


class ATELIER_PT_project(SectionPanel, bpy.types.Panel):
    """Paint the selected meshes from several views, or restyle a render keeping its structure"""

    bl_idname = "ATELIER_PT_project"
    bl_label = "Project"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.atelier.project
        layout.prop(settings, "prompt", text="")
        layout.prop(settings, "negative_prompt", text="Avoid")
        layout.prop(settings, "views")
        row = layout.row(align=True)
        row.prop(settings, "view_size", text="View")
        row.prop(settings, "texture_size", text="Texture")
        selected = [obj.name for obj in (context.selected_objects or []) if obj.type == "MESH"]
        if not selected:
            draw_wrapped(layout, "Select the mesh objects to paint; selected together, they share the views")
        op = draw_job_button(layout, context, "atelier.project_texture", "Project", "MOD_UVPROJECT",
                             builtin=False, model_kind=None)
        if op is not None:
            for name in ("prompt", "negative_prompt", "views", "view_size", "texture_size"):
                setattr(op, name, getattr(settings, name))

        box = layout.box()
        box.label(text="Restyle", icon="RENDER_RESULT")
        box.row(align=True).prop(settings, "source", expand=True)
        row = box.row(align=True)
        row.prop(settings, "strength")
        row.prop(settings, "use_depth", toggle=True)
        op = draw_job_button(box, context, "atelier.restyle_render", "Restyle", "SHADERFX",
                             builtin=False, model_kind=None)
        if op is not None:
            for name in ("prompt", "negative_prompt", "strength", "source", "use_depth"):
                setattr(op, name, getattr(settings, name))


classes = (ATELIER_PT_project,)
register, unregister = bpy.utils.register_classes_factory(classes)
