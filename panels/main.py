"""The Atelier tab: 3D View > Sidebar > "Atelier". Feature panels hang below it."""

import bpy

from .. import preferences
from ..client import session
from .sidebar import SidebarPanel


class ATELIER_PT_main(SidebarPanel, bpy.types.Panel):
    """Atelier: generative textures, colour schemes and scene ideas"""

    bl_idname = "ATELIER_PT_main"
    bl_label = "Atelier"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        # Each section says what a missing backend means for its button.
        client = session.current_client()
        if preferences.backend_problem():
            status = "not set up (built-in engine only)"
        elif preferences.uses_remote():
            status = f"remote server at {preferences.remote_config().shown_url}"
        elif client is not None and client.running():
            status = "running"
        else:
            status = "starts on first use"
        layout.label(text=f"Backend: {status}", icon="CONSOLE")
        texture_model = preferences.resolved_model("texture")
        layout.label(text=f"Texture model: {texture_model or 'not set'}", icon="TEXTURE")
        state = context.window_manager.atelier
        if state.running:
            row = layout.row(align=True)
            row.progress(factor=state.progress, type="BAR", text=f"{state.job_label}: {state.stage}")
            row.operator("atelier.cancel_job", text="", icon="CANCEL")


classes = (ATELIER_PT_main,)
register, unregister = bpy.utils.register_classes_factory(classes)
