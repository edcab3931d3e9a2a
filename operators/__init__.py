"""Atelier's operators, one module per feature."""

from ..registration import modules_factory
from . import (
    backend_control,
    bake,
    batch,
    doctor,
    export_material,
    ideas,
    inpaint,
    live_preview,
    maps,
    model_folders,
    models,
    palette,
    project,
    refine,
    restyle,
    texture,
    texture_history,
    upscale,
)

register, unregister = modules_factory(
    (backend_control, doctor, texture, batch, live_preview, texture_history, maps, refine, inpaint, upscale,
     project, restyle, export_material, bake, palette, ideas, models, model_folders))
