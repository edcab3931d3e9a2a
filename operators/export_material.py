"""``atelier.export_material``: a material's maps as PNG files, with a glTF ORM image."""

from pathlib import Path

import bpy

from ..apply import material_export, material_maps
from ..client.session import ApplyError
from ..properties.fields import BLEND_RELATIVE


class ATELIER_OT_export_material(bpy.types.Operator):
    """Write the material's maps as PNG files (<material>_<role>.png) for game engines and other
    programs, with an ORM image (R = AO, G = roughness, B = metallic)"""

    bl_idname = "atelier.export_material"
    bl_label = "Export Material Maps"
    bl_options = {"REGISTER"}

    material: bpy.props.StringProperty(
        name="Material", description="Material to export (empty = the active object's active material)")
    directory: bpy.props.StringProperty(
        name="Folder", description="Where the PNGs go ('//' is the .blend's folder)",
        subtype="DIR_PATH", default="//textures", options=BLEND_RELATIVE)
    orm: bpy.props.BoolProperty(
        name="ORM Image", description="Also pack AO, roughness and metallic into one glTF-style "
                                      "image (R, G, B)", default=True)
    normal_convention: bpy.props.EnumProperty(
        name="Normal Map", description="Which way the normal map's green channel points",
        items=[("OPENGL", "OpenGL", "Green is up (Blender, glTF, Godot, Unity)"),
               ("DIRECTX", "DirectX", "Green is down (Unreal, 3ds Max)")],
        default="OPENGL")
    overwrite: bpy.props.BoolProperty(
        name="Overwrite", description="Replace files that already exist", default=False)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        """In the UI, choose the folder first; headless, export at once."""
        if bpy.app.background or context.window is None:
            return self.execute(context)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            material = material_maps.pick_material(context, self.material)
            directory = self._directory()
            files = material_export.export(material, directory, orm=self.orm,
                                           normal_convention=self.normal_convention,
                                           overwrite=self.overwrite)
        except ApplyError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        names = ", ".join(path.name for path in files.values())
        self.report({"INFO"}, f"Wrote {names} to {directory}")
        return {"FINISHED"}

    def _directory(self) -> Path:
        if not self.directory.strip():
            raise ApplyError("choose a folder for the maps")
        if self.directory.startswith("//") and not bpy.data.filepath:
            raise ApplyError("save the .blend first, or choose an absolute folder for the maps")
        return Path(bpy.path.abspath(self.directory))


register, unregister = bpy.utils.register_classes_factory((ATELIER_OT_export_material,))
