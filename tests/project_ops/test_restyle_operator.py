"""``atelier.restyle_render`` in real Blender with the real backend: the scene camera rendered at
preview quality (Cycles) and its depth make a new Image with provenance; the render settings
come back as they were; no camera and the viewport under ``blender -b`` are clear errors."""

from __future__ import annotations

import json

import pytest
from project_scenes import cube, project_state, scene_camera


def render_settings(scene) -> tuple:
    render = scene.render
    return (render.engine, render.resolution_x, render.resolution_y, render.resolution_percentage,
            scene.cycles.samples, scene.cycles.use_denoising, render.image_settings.file_format)


@pytest.mark.parametrize("use_depth", [True, False])
def test_the_render_is_restyled(bpy_module, clean_scene, control_env, quick_style, use_depth, capfd):
    bpy = bpy_module
    cube(bpy)
    scene_camera(bpy, size=96)
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"  # the artist's own settings, put back afterwards
    scene.render.resolution_x = 80  # 80 x 96: a multiple of 16 both ways
    settings = render_settings(scene)
    capfd.readouterr()
    outcome = bpy.ops.atelier.restyle_render(prompt="oil painting", strength=0.6, use_depth=use_depth,
                                             seed=5, style=quick_style, control_model=control_env)
    assert outcome == {"FINISHED"}
    out = capfd.readouterr().out
    assert f"Restyled the render {'with its depth' if use_depth else 'without depth'}" in out
    image = bpy.data.images["Restyle oil painting"]
    assert tuple(image.size) == (80, 96) and image.packed_file is not None
    record = json.loads(image["atelier_provenance"])
    assert record["task"] == "restyle" and record["parameters"]["seed"] == 5
    assert record["parameters"]["strength"] == pytest.approx(0.6)
    assert render_settings(scene) == settings


def test_a_large_output_renders_at_preview_size(bpy_module, addon, clean_scene):
    bpy = bpy_module
    scene_camera(bpy)
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = 1920, 1080
    assert addon.apply.restyle_render.preview_size(scene) == (512, 288)
    scene.render.resolution_percentage = 10
    assert addon.apply.restyle_render.preview_size(scene) == (192, 112)


def refusal(bpy, **kwargs) -> str:
    before = project_state(bpy)
    with pytest.raises(RuntimeError) as refused:
        bpy.ops.atelier.restyle_render(**kwargs)
    assert project_state(bpy) == before
    assert "Traceback" not in str(refused.value)
    return str(refused.value)


def test_no_camera_is_a_clear_error(bpy_module, clean_scene, control_env):
    bpy = bpy_module
    cube(bpy)
    message = refusal(bpy, prompt="oil painting", control_model=control_env)
    assert "the scene has no camera to render; add one (Add > Camera)" in message


def test_the_viewport_needs_a_window(bpy_module, clean_scene, control_env):
    """Under the bpy module (like ``blender -b``) there is no viewport to grab."""
    bpy = bpy_module
    cube(bpy)
    scene_camera(bpy)
    message = refusal(bpy, prompt="oil painting", source="VIEWPORT", control_model=control_env)
    assert "there is no viewport to grab: Blender runs without a window" in message
    assert "use source='RENDER'" in message


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"prompt": ""}, "the prompt is empty"),
    ({"strength": 0.0}, "strength must be above 0 and at most 1"),
    ({"strength": 1.5}, "strength must be above 0 and at most 1"),
    ({"seed": -2}, "seed -2 is out of range"),
    ({"model": "builtin"}, "the built-in engine cannot"),
])
def test_settings_refused_before_rendering(bpy_module, clean_scene, control_env, kwargs, expected):
    bpy = bpy_module
    scene_camera(bpy)
    assert expected in refusal(bpy, **{"prompt": "oil painting", **kwargs})
    assert "Render Result" not in bpy.data.images


def test_render_preview_is_cycles(bpy_module, addon, clean_scene, tmp_path):
    """The preview is rendered by Cycles at few samples, whatever the scene's engine."""
    bpy = bpy_module
    cube(bpy)
    scene_camera(bpy)
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    engines = []

    def note_engine(scene, _depsgraph=None):
        engines.append((scene.render.engine, scene.cycles.samples))

    bpy.app.handlers.render_pre.append(note_engine)
    try:
        assert addon.apply.restyle_render.render_camera(bpy.context, tmp_path / "r.png") == (64, 64)
    finally:
        bpy.app.handlers.render_pre.remove(note_engine)
    assert engines == [("CYCLES", addon.apply.restyle_render.PREVIEW_SAMPLES)]
    assert (tmp_path / "r.png").is_file() and scene.render.engine == "BLENDER_WORKBENCH"
