"""Atelier's sidebar panels: the main panel, then one section per feature, in this order."""

from ..registration import modules_factory
from . import ideas, main, model_manager, palette, refine, texture

register, unregister = modules_factory((main, texture, refine, palette, ideas, model_manager))
