"""Atelier's operators, one module per feature."""

from ..registration import modules_factory
from . import backend_control, bake, doctor, ideas, palette, texture, texture_history

register, unregister = modules_factory(
    (backend_control, doctor, texture, texture_history, bake, palette, ideas))
