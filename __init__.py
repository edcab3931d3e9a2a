"""Atelier: generative textures, colour schemes and scene ideas, applied to the scene.

Installed as ``bl_ext.<repo>.atelier``; every import inside is relative.
"""

from . import operators, panels, preferences, properties

_modules = (preferences, properties, operators, panels)


def register() -> None:
    for module in _modules:
        module.register()


def unregister() -> None:
    for module in reversed(_modules):
        module.unregister()
