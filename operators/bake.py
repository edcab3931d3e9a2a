"""``atelier.bake_material``: bake the active object's material to image maps for export."""

import os

import bpy

from ..apply import bake
from ..properties.fields import BLEND_RELATIVE

MAP_ITEMS = [(role, spec.label, spec.description) for role, spec in bake.MAPS.items()]


class ATELIER_OT_bake_material(bpy.types.Operator):
    """Bake the active object's material to PNG image maps with Cycles on the CPU, for export"""

    bl_idname = "atelier.bake_material"
    bl_label = "Bake Material to Images"
    bl_options = {"REGISTER"}

    directory: bpy.props.StringProperty(
        name="Folder", description="Where the PNGs go ('//' is the .blend's folder)",
        subtype="DIR_PATH", default="//textures", options=BLEND_RELATIVE)
    size: bpy.props.IntProperty(name="Size", description="Width and height of each map in pixels",
                                default=1024, min=bake.MIN_SIZE, max=bake.MAX_SIZE)
    samples: bpy.props.IntProperty(name="Samples", description="Cycles samples per pixel",
                                   default=4, min=1, max=4096)
    maps: bpy.props.EnumProperty(name="Maps", description="Which maps to bake", items=MAP_ITEMS,
                                 options={"ENUM_FLAG"}, default=set(bake.MAPS))

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        if obj is None or obj.type != "MESH" or obj.active_material is None:
            cls.poll_message_set("Select a mesh object with a material to bake")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.directory.startswith("//") and not bpy.data.filepath:
            self.report({"ERROR"}, "Save the .blend first, or choose an absolute folder for the maps")
            return {"CANCELLED"}
        directory = bpy.path.abspath(self.directory)
        ordered = tuple(role for role in bake.MAPS if role in self.maps)
        try:
            paths = bake.bake_maps(context, context.active_object, directory, size=self.size,
                                   samples=self.samples, maps=ordered)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        names = ", ".join(os.path.basename(path) for path in paths.values())
        self.report({"INFO"}, f"Baked {names} to {directory}")
        return {"FINISHED"}


register, unregister = bpy.utils.register_classes_factory((ATELIER_OT_bake_material,))
