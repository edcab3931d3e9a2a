"""Atelier's operators, one module per feature."""

from ..registration import modules_factory
from . import backend, bake, history, ideas, palette, texture

register, unregister = modules_factory((backend, texture, history, bake, palette, ideas))
