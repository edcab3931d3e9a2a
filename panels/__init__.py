"""Atelier's sidebar panels: the main panel, then one section per feature, in this order."""

from ..registration import modules_factory
from . import batch, ideas, main, model_manager, palette, project, refine, texture

register, unregister = modules_factory((main, texture, batch, refine, project, palette, ideas, model_manager))
