import bpy


class AtelierSceneSettings(bpy.types.PropertyGroup):
    pass


def register() -> None:
    bpy.utils.register_class(AtelierSceneSettings)
    bpy.types.Scene.atelier = bpy.props.PointerProperty(type=AtelierSceneSettings)


def unregister() -> None:
    del bpy.types.Scene.atelier
    bpy.utils.unregister_class(AtelierSceneSettings)
