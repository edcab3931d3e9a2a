import bpy


class AtelierPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__


register, unregister = bpy.utils.register_classes_factory((AtelierPreferences,))
