"""Atelier's operators, one module per feature."""

from ..registration import modules_factory
from . import backend_control, bake, doctor, export_material, ideas, maps, palette, texture, texture_history

register, unregister = modules_factory(
    (backend_control, doctor, texture, texture_history, maps, export_material, bake, palette, ideas))
