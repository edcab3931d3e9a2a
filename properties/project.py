"""Projection and restyle settings: the fields ``atelier.project_texture`` and
``atelier.restyle_render`` share with the Project panel (``Scene.atelier.project``)."""

import bpy

from ..core import limits
from ..core.families import SIZE_MULTIPLE
from ..core.projection import MAX_VIEWS
from .fields import bounds

SOURCE_ITEMS = [
    ("RENDER", "Render", "Render the scene camera at preview quality (Cycles, few samples)"),
    ("VIEWPORT", "Viewport", "Grab the 3D Viewport as it is drawn (needs Blender's window)"),
]


def project_fields(*, hard: bool) -> dict:
    """Views and sizes of a projection (``hard``: clamp to the limits; see ``fields``)."""
    return {
        "views": bpy.props.IntProperty(
            name="Views", description="Cameras the mesh is painted from (1 = the scene camera, or the "
                                      "viewport when there is none)", default=4,
            **bounds(1, MAX_VIEWS, hard=hard)),
        "view_size": bpy.props.IntProperty(
            name="View Size", description=f"Pixels per side of each view's picture (multiple of "
                                          f"{SIZE_MULTIPLE})", default=512, step=4 * SIZE_MULTIPLE,
            **bounds(limits.MIN_SIZE, limits.DEFAULT_MAX_SIZE, hard=hard)),
        "texture_size": bpy.props.IntProperty(
            name="Texture Size", description="Pixels per side of each mesh's baked texture",
            default=1024, **bounds(limits.MIN_SIZE, limits.DEFAULT_MAX_SIZE, hard=hard)),
    }


def control_model_field():
    """The depth ControlNet an operator asks for ('' = the preference or the table's)."""
    return bpy.props.StringProperty(
        name="Control Model", description="Depth ControlNet: HF id or local folder (empty = the "
                                          "preference, else the one for the texture model)")


def restyle_fields() -> dict:
    """How a render is restyled: strength, source and whether its depth steers the model."""
    return {
        "strength": bpy.props.FloatProperty(
            name="Strength", description="How much to change the picture: above 0 (barely) up to 1 "
                                         "(repaint fully, keeping only the depth)", default=0.6,
            soft_min=0.01, soft_max=1.0, subtype="FACTOR"),
        "source": bpy.props.EnumProperty(name="Source", description="Where the picture comes from",
                                         items=SOURCE_ITEMS, default="RENDER"),
        "use_depth": bpy.props.BoolProperty(
            name="Use Depth", description="Steer the model with the picture's depth so its structure "
                                          "stays (a depth ControlNet)", default=True),
    }


class ProjectSettings(bpy.types.PropertyGroup):
    """The Project panel's values (what its Project and Restyle buttons send)."""

    __annotations__ = {
        "prompt": bpy.props.StringProperty(name="Prompt", description="What the object is painted as"),
        "negative_prompt": bpy.props.StringProperty(
            name="Negative Prompt", description="What the pictures should not show"),
        **project_fields(hard=True),
        **restyle_fields(),
    }


classes = (ProjectSettings,)
register, unregister = bpy.utils.register_classes_factory(classes)
