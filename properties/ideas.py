"""Scene ideas saved with the .blend (``Scene.atelier``).

Public for scripts:

- ``scene.atelier.ideas``: the ideas of the last suggestion (a new one replaces them). Each
  ``SceneIdea`` holds ``document``, the idea as JSON text (a document of ``core/schemas/scene_idea.json``:
  metres, Z up, degrees, sRGB hex colours), checked when it was stored and checked again
  before it is built, because a .blend may come from anyone. ``title``, ``pitch`` and ``mood``
  are copies for display; ``engine`` says what wrote it (a model id or ``builtin``) and
  ``provenance`` holds the suggestion's record (the built-in engine's names each idea's template).
  ``bpy.ops.atelier.apply_scene_idea(index=i)`` builds ``ideas[i]``.
- ``scene.atelier.idea_request``: the Scene Ideas panel's inputs.
"""

import bpy

from ..core.ideas import MAX_IDEAS, MIN_IDEAS
from .fields import bounds


class SceneIdea(bpy.types.PropertyGroup):
    """One suggested scene idea; ``name`` is its title."""

    title: bpy.props.StringProperty(name="Title", description="The idea's title")
    pitch: bpy.props.StringProperty(name="Pitch", description="One paragraph selling the idea")
    mood: bpy.props.StringProperty(name="Mood", description="A few words for the mood")
    document: bpy.props.StringProperty(
        name="Document", description="The whole idea as JSON (schema atelier.scene_idea/1)")
    prompt: bpy.props.StringProperty(name="Prompt", description="The prompt it answers")
    engine: bpy.props.StringProperty(name="Engine", description="The model that wrote it, or 'builtin'")
    provenance: bpy.props.StringProperty(
        name="Provenance", description="How the suggestion was made (JSON record: engine, model or "
                                       "templates, seed, parameters)")
    show_details: bpy.props.BoolProperty(name="Details", description="Show the idea's details")


def request_fields(*, hard: bool) -> dict:
    """What ideas are asked for: the panel's inputs and the operator's arguments (``hard``: clamp
    to the limits; see ``fields``)."""
    return {
        "prompt": bpy.props.StringProperty(
            name="Prompt", description="The scene you want ideas for, e.g. 'a cosy reading nook at dusk'"),
        "count": bpy.props.IntProperty(name="Ideas", default=3,
                                       description=f"How many ideas ({MIN_IDEAS} to {MAX_IDEAS})",
                                       **bounds(MIN_IDEAS, MAX_IDEAS, hard=hard)),
        "use_selection": bpy.props.BoolProperty(
            name="Use Selection", default=True,
            description="Tell the model the names and sizes of the selected objects and the current palette"),
    }


class IdeaRequestSettings(bpy.types.PropertyGroup):
    """The Scene Ideas panel's values."""

    __annotations__ = request_fields(hard=True)

classes = (SceneIdea, IdeaRequestSettings)
register, unregister = bpy.utils.register_classes_factory(classes)
