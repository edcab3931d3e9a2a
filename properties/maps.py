"""PBR map settings: the operator fields every maps-making operator shares, and what the history
records of each map.

Public for scripts: ``item.maps`` of a ``scene.atelier.history`` entry lists the maps of its
material, each with its ``role``, ``image_name``, ``engine`` and ``model``.
"""

import bpy

from ..core.pbr import MAP_ROLES, check_map_names

# The menus' words for each of core.pbr.MAP_ROLES (a test checks they name the same roles).
MAP_TEXTS = {
    "normal": ("Normal", "Tangent-space normal map (OpenGL: green is up), through a Normal Map node"),
    "height": ("Height", "Height map (0.5 at the mean surface), through a Bump or Displacement node"),
    "roughness": ("Roughness", "How rough the surface is, through a Map Range node (the roughness range)"),
    "metallic": ("Metallic", "Where the surface is metal"),
    "ao": ("AO", "Ambient occlusion (1 = open), multiplied into the base colour"),
    "albedo": ("Albedo", "The colour with light and shadow removed, in place of the picture"),
}
MAP_ITEMS = [(role.upper(), *MAP_TEXTS[role]) for role in MAP_ROLES]
DEFAULT_MAPS = {"NORMAL", "HEIGHT", "ROUGHNESS", "AO"}
DISPLACEMENT_ITEMS = [
    ("BUMP", "Bump", "Height shades the surface through a Bump node; the mesh does not move"),
    ("DISPLACEMENT", "Displacement", "Height moves the surface through a Displacement node (Cycles; "
                                     "subdivide the mesh finely for detail)"),
    ("BOTH", "Both", "Height moves the surface and Blender adds bump for the finer detail"),
]


def map_roles(choice) -> tuple[str, ...]:
    """An operator's ``maps`` choice ({'NORMAL', ...}) as core role names in ``MAP_ROLES`` order."""
    return check_map_names(name.lower() for name in choice)


def maps_fields() -> dict:
    """``maps``, ``maps_model``, ``displacement`` and ``use_ao``, for the operators that make maps."""
    return {
        "maps": bpy.props.EnumProperty(
            name="Maps", description="Which PBR maps to make (not set: the 'Default Maps' preference; "
                                     "an empty set: none)",
            items=MAP_ITEMS, options={"ENUM_FLAG"}, default=set()),
        "maps_model": bpy.props.StringProperty(
            name="Maps Model", description="'classic' (no weights), 'marigold' or a folder holding "
                                           "Marigold's pipelines (empty = the preference)"),
        "displacement": bpy.props.EnumProperty(
            name="Displacement", description="How the height map acts (the material's displacement "
                                             "method)", items=DISPLACEMENT_ITEMS, default="BUMP"),
        "use_ao": bpy.props.BoolProperty(
            name="Use AO", description="Multiply the ambient occlusion map into the base colour",
            default=True),
    }


class TextureMapItem(bpy.types.PropertyGroup):
    """One map of a history entry's material and what made it."""

    role: bpy.props.StringProperty(name="Role", description="normal, height, roughness, metallic, ao "
                                                            "or albedo")
    image_name: bpy.props.StringProperty(name="Image", description="Image datablock of the map")
    engine: bpy.props.StringProperty(name="Engine", description="Engine that made it (classic or "
                                                                "marigold)")
    model: bpy.props.StringProperty(name="Model", description="Model that made it")


classes = (TextureMapItem,)
register, unregister = bpy.utils.register_classes_factory(classes)
