"""The Scene Ideas panel: ask for ideas, review titles and pitches, open the details, apply one."""

import bpy

from .. import preferences
from ..apply import scene_idea
from ..core import ideas as idea_rules
from ..core.schema import DocumentError, parse_json, short
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
        server = preferences.text_server_config()
        if server is not None and model != preferences.BUILTIN:
            layout.label(text=f"Text server model: {server.model or 'the one it serves'}", icon="URL")
        else:
            layout.label(text=f"Text model: {model or 'not set'}", icon="TEXT")
        op = draw_job_button(layout, context, "atelier.suggest_scene", "Suggest Scene Ideas",
                             "OUTLINER_COLLECTION", builtin=model == preferences.BUILTIN, model_kind="text",
                             text_server=True)
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
    # Display only: the document is checked again when it is applied. It may come from anyone's
    # .blend, so each part is drawn only when it has the right shape, and a damaged document
    # says what is wrong with it.
    try:
        document = parse_json(idea.document)
    except DocumentError as exc:
        column.label(text="This idea's document cannot be read", icon="ERROR")
        draw_wrapped(column, exc.problems[0])
        return
    try:
        idea_rules.check_idea(document)
    except idea_rules.IdeaError as exc:
        column.label(text="This idea's document is damaged; Apply will refuse it", icon="ERROR")
        draw_wrapped(column, exc.problems[0])
    document = document if isinstance(document, dict) else {}
    objects, lights = _list(document, "objects"), _list(document, "lights")
    camera = document.get("camera") if isinstance(document.get("camera"), dict) else {}
    column.label(text=f"Mood: {idea.mood}")
    column.label(text="Palette: " + " ".join(_shown(c) for c in _list(document, "palette")[:_LISTED]))
    lens = _shown(camera.get("lens", "?"))
    column.label(text=f"{len(objects)} objects, {len(lights)} lights, {lens} mm camera")
    for obj in objects[:_LISTED]:
        obj = obj if isinstance(obj, dict) else {}
        column.label(text=f"  {_shown(obj.get('name'))} ({_shown(obj.get('primitive'))})")
    if len(objects) > _LISTED:
        column.label(text=f"  ... and {len(objects) - _LISTED} more")
    for note in _list(document, "notes")[:_LISTED]:
        draw_wrapped(column, f"- {_shown(note, _LONGEST_NOTE)}")
    draw_wrapped(column, f"From {scene_idea.origin(idea, index)}: '{idea.prompt}'")


_LISTED = 12  # objects, colours and notes listed at most
_LONGEST_NOTE = 600  # characters of one note shown (as the schema allows; a .blend may hold more)


def _list(document: dict, key: str) -> list:
    """``document[key]`` when it is a list, else an empty one (a damaged document)."""
    value = document.get(key)
    return value if isinstance(value, list) else []


def _shown(value, longest: int = 60) -> str:
    """Text as it is (cut to ``longest``), anything else in short JSON."""
    return value[:longest] if isinstance(value, str) else short(value)


classes = (ATELIER_PT_ideas,)
register, unregister = bpy.utils.register_classes_factory(classes)
