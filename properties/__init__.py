"""Saved state: one PropertyGroup on the Scene, ``Scene.atelier``; session state on the WindowManager."""

import bpy


class AtelierSceneSettings(bpy.types.PropertyGroup):
    """Everything Atelier saves with the .blend (public: scripts read it)."""


def register() -> None:
    bpy.utils.register_class(AtelierSceneSettings)
    bpy.types.Scene.atelier = bpy.props.PointerProperty(type=AtelierSceneSettings)


def unregister() -> None:
    del bpy.types.Scene.atelier
    bpy.utils.unregister_class(AtelierSceneSettings)
