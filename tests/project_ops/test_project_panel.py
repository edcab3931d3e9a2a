"""The Project section draws its settings and fills its Project and Restyle buttons from them."""

from __future__ import annotations

from panel_recorder import draw, labels
from project_scenes import cube


def operators(calls) -> dict:
    return {args[0]: kwargs for name, args, kwargs in calls if name == "operator properties"}


def test_the_buttons_send_the_panel_settings(bpy_module, addon, clean_scene):
    bpy = bpy_module
    cube(bpy)
    settings = bpy.context.scene.atelier.project
    settings.prompt, settings.views, settings.view_size, settings.texture_size = "bronze", 6, 256, 2048
    settings.source, settings.strength, settings.use_depth = "VIEWPORT", 0.4, False
    sent = operators(draw(bpy, addon.panels.project.ATELIER_PT_project))
    assert sent["atelier.project_texture"] == {"prompt": "bronze", "negative_prompt": "", "views": 6,
                                               "view_size": 256, "texture_size": 2048}
    restyle = sent["atelier.restyle_render"]
    assert restyle["source"] == "VIEWPORT" and restyle["use_depth"] is False and restyle["prompt"] == "bronze"
    assert abs(restyle["strength"] - 0.4) < 1e-6


def test_without_a_mesh_the_panel_says_what_to_select(bpy_module, addon, clean_scene):
    calls = draw(bpy_module, addon.panels.project.ATELIER_PT_project)
    assert any("Select the mesh objects to paint" in text for text in labels(calls))
