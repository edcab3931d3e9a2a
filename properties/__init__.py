"""Saved state: one PropertyGroup on the Scene, ``Scene.atelier``; session state on the WindowManager.

Each feature keeps its PropertyGroups in its own module, registered before the root group that
points at them (add the module to the features registered below and one field to the root).
"""

import bpy

from ..registration import modules_factory
from . import batch, ideas, maps, models, palette, project, refine, texture

# maps before texture: a texture history entry holds its maps.
_register_features, _unregister_features = modules_factory(
    (maps, texture, refine, project, palette, ideas, models, batch))


class AtelierSceneSettings(bpy.types.PropertyGroup):
    """Everything Atelier saves with the .blend (public: scripts read it)."""

    texture: bpy.props.PointerProperty(type=texture.TextureSettings)
    history: bpy.props.CollectionProperty(
        type=texture.TextureHistoryItem, description="Every texture Atelier made, newest last")
    history_index: bpy.props.IntProperty(name="History Entry", min=0)
    refine: bpy.props.PointerProperty(type=refine.RefineSettings)
    project: bpy.props.PointerProperty(type=project.ProjectSettings)
    palette: bpy.props.PointerProperty(type=palette.PaletteSettings)
    palettes: bpy.props.CollectionProperty(
        type=palette.PaletteInfo, description="Names and roles of Atelier's palettes, keyed by palette name")
    ideas: bpy.props.CollectionProperty(
        type=ideas.SceneIdea, description="The ideas of the last suggestion (see properties/ideas.py)")
    idea_request: bpy.props.PointerProperty(type=ideas.IdeaRequestSettings)


class AtelierSessionState(bpy.types.PropertyGroup):
    """The job running now and the last error; not saved (``WindowManager.atelier``)."""

    running: bpy.props.BoolProperty(name="Running")
    job_operator: bpy.props.StringProperty(name="Operator", description="bl_idname of the job's operator")
    job_label: bpy.props.StringProperty(name="Label")
    stage: bpy.props.StringProperty(name="Stage")
    progress: bpy.props.FloatProperty(name="Progress", subtype="FACTOR", min=0.0, max=1.0)
    last_error: bpy.props.StringProperty(name="Last Error")
    last_error_operator: bpy.props.StringProperty(
        name="Failed Operator", description="bl_idname of the operator whose job failed last")
    models: bpy.props.CollectionProperty(
        type=models.ModelStatus, description="What the last model list found in the Hugging Face cache")
    batch_items: bpy.props.CollectionProperty(
        type=batch.BatchItemState, description="Every item of the last batch and how far it is")


def register() -> None:
    _register_features()
    bpy.utils.register_class(AtelierSceneSettings)
    bpy.utils.register_class(AtelierSessionState)
    bpy.types.Scene.atelier = bpy.props.PointerProperty(type=AtelierSceneSettings)
    bpy.types.WindowManager.atelier = bpy.props.PointerProperty(type=AtelierSessionState)


def unregister() -> None:
    del bpy.types.WindowManager.atelier
    del bpy.types.Scene.atelier
    bpy.utils.unregister_class(AtelierSessionState)
    bpy.utils.unregister_class(AtelierSceneSettings)
    _unregister_features()
