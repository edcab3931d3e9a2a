"""Atelier: generative textures, colour schemes and scene ideas, applied to the scene.

Installed as ``bl_ext.<repo>.atelier``; every import inside is relative.
"""

from . import operators, panels, preferences, properties
from .registration import modules_factory

register, unregister = modules_factory((preferences, properties, operators, panels))
