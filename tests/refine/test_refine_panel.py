"""The Refine panel under the Texture panel: its buttons send the Texture panel's prompt, style
and seed with the panel's own settings, for the active material's picture."""

from panel_recorder import draw, labels
from refine_scenes import mask_image, square_mask


def operators(calls) -> dict:
    return {args[0]: kwargs for name, args, kwargs in calls if name == "operator properties"}


def test_the_buttons_send_the_panel_settings(bpy_module, addon, picture_scene):
    bpy = bpy_module
    scene = bpy.context.scene
    texture, settings = scene.atelier.texture, scene.atelier.refine
    texture.prompt, texture.negative_prompt, texture.seed, texture.seamless = "oak", "blurry", 5, "X"
    mask_image(bpy, square_mask())
    settings.strength, settings.inpaint_strength, settings.mask, settings.seam_fix = 0.3, 0.8, "Mask", True
    settings.factor = "4"
    calls = draw(bpy, addon.panels.refine.ATELIER_PT_refine)
    sent = operators(calls)
    shared = {"prompt": "oak", "style": "", "seed": 5}
    assert sent["atelier.refine_texture"] == {**shared, "negative_prompt": "blurry", "material": "Picture",
                                              "strength": 0.30000001192092896, "seamless": "X"}
    assert sent["atelier.inpaint_texture"] == {**shared, "negative_prompt": "blurry", "mask": "Mask",
                                               "seam_fix": True, "strength": 0.800000011920929}
    assert sent["atelier.upscale_texture"] == {**shared, "factor": 4}
    assert "Picture: Picture (64x64)" in labels(calls)


def test_untouched_strengths_and_seamless_are_left_to_the_style(bpy_module, addon, picture_scene):
    """Strength and seamless a style may supply go only when the artist set them in the panels."""
    scene = bpy_module.context.scene
    scene.atelier.texture.style = "hand-painted"
    sent = operators(draw(bpy_module, addon.panels.refine.ATELIER_PT_refine))
    assert sent["atelier.refine_texture"] == {"prompt": "", "negative_prompt": "", "style": "hand-painted",
                                              "seed": -1, "material": "Picture"}
    assert not {"strength", "seamless"} & set(sent["atelier.refine_texture"])
    assert "strength" not in sent["atelier.inpaint_texture"]
    scene.atelier.refine.inpaint_strength = 0.5
    sent = operators(draw(bpy_module, addon.panels.refine.ATELIER_PT_refine))
    assert sent["atelier.inpaint_texture"]["strength"] == 0.5
    assert "strength" not in sent["atelier.refine_texture"]


def test_without_a_picture_the_panel_says_what_to_select(bpy_module, addon, clean_scene):
    calls = draw(bpy_module, addon.panels.refine.ATELIER_PT_refine)
    assert not operators(calls)
    assert "Select an object whose material shows a picture on its Base" in " ".join(labels(calls))
