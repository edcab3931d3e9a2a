"""The Scene Ideas panel: ask for ideas, review titles and pitches, open the details, apply one."""

import json

import bpy

from .. import preferences
from ..apply import scene_idea
from .sidebar import SectionPanel, draw_job_button, draw_wrapped


class ATELIER_PT_ideas(SectionPanel, bpy.types.Panel):
    """Scene ideas from the text model (or the built-in templates), applied as block-outs"""

    bl_idname = "ATELIER_PT_ideas"
    bl_label = "Scene Ideas"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.atelier
        request = settings.idea_request
        layout.prop(request, "prompt", text="")
        row = layout.row(align=True)
        row.prop(request, "count")
        row.prop(request, "use_selection", text="", icon="RESTRICT_SELECT_OFF")
        model = preferences.resolved_model("text")
        layout.label(text=f"Text model: {model or 'not set'}", icon="TEXT")
        op = draw_job_button(layout, context, "atelier.suggest_scene", "Suggest Scene Ideas",
                             "OUTLINER_COLLECTION", builtin=model == preferences.BUILTIN, model_kind="text")
        if op is not None:
            op.prompt, op.count, op.use_selection = request.prompt, request.count, request.use_selection
        for index, idea in enumerate(settings.ideas):
            _draw_idea(layout.box(), idea, index)


def _draw_idea(box: bpy.types.UILayout, idea, index: int) -> None:
    row = box.row(align=True)
    row.prop(idea, "show_details", text="", emboss=False,
             icon="TRIA_DOWN" if idea.show_details else "TRIA_RIGHT")
    row.label(text=idea.title)
    row.operator("atelier.apply_scene_idea", text="Apply", icon="CHECKMARK").index = index
    draw_wrapped(box, idea.pitch)
    if idea.show_details:
        _draw_details(box.column(align=True), idea, index)


def _draw_details(column: bpy.types.UILayout, idea, index: int) -> None:
    # Display only: the document is checked again when it is applied.
    try:
        document = json.loads(idea.document)
        objects, lights, camera = document["objects"], document["lights"], document["camera"]
    except (ValueError, KeyError, TypeError):
        column.label(text="This idea's document cannot be read", icon="ERROR")
        return
    column.label(text=f"Mood: {idea.mood}")
    column.label(text="Palette: " + " ".join(str(c) for c in document.get("palette", [])))
    column.label(text=f"{len(objects)} objects, {len(lights)} lights, {camera.get('lens', '?')} mm camera")
    for obj in objects[:12]:
        column.label(text=f"  {obj.get('name')} ({obj.get('primitive')})")
    if len(objects) > 12:
        column.label(text=f"  ... and {len(objects) - 12} more")
    for note in document.get("notes", []):
        draw_wrapped(column, f"- {note}")
    draw_wrapped(column, f"From {scene_idea.origin(idea, index)}: '{idea.prompt}'")


classes = (ATELIER_PT_ideas,)
register, unregister = bpy.utils.register_classes_factory(classes)
