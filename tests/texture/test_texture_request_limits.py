"""Operators refuse at once what the backend would skip or refuse for its form alone (a prompt
over the cap, a request line over ``protocol.MAX_LINE_BYTES``, a guidance that is not a finite
number), in real Blender with the real backend: a clear error that says what to change, the
scene unchanged, no job folder left, and the backend serves the next job. Before, a 5 MiB
prompt waited an hour for an answer that never came, and a NaN guidance was a traceback."""

import math
import sys
import time
from pathlib import Path

import pytest
from blender_helpers import mesh_object
from scene_state import datablock_state

# The refine tests' scene builders, shared rather than copied.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "maps"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "refine"))

from blender_maps import image_from_array, picture_material, stripes  # noqa: E402
from refine_scenes import SIZE, mask_image, square_mask  # noqa: E402

GENERATE = dict(width=64, height=64, steps=2, seed=1)
HUGE = 5 * 2**20  # characters: one request line over protocol.MAX_LINE_BYTES
AT_ONCE = 10.0  # seconds: a refusal needs no backend, let alone a model


@pytest.fixture
def no_long_waits(addon, monkeypatch):
    """A request that got through would wait an hour for the backend (``SILENCE_SECONDS``):
    end that wait soon, so a regression fails instead of hanging."""
    monkeypatch.setattr(addon.client.session, "SILENCE_SECONDS", 5.0)


def job_folders(addon) -> list[str]:
    """What the jobs folder holds: job folders and the image edits' input folders."""
    return sorted(path.name for path in Path(addon.preferences.user_folder("jobs")).iterdir())


def refusal(bpy, addon, operator: str, **kwargs) -> str:
    """Call ``operator`` expecting a refusal at once: its message, with the scene, the texture
    history and the jobs folder as they were, no job running, and the error shown in the panel."""
    before = (datablock_state(bpy), len(bpy.context.scene.atelier.history), job_folders(addon))
    started = time.monotonic()
    with pytest.raises(RuntimeError) as refused:
        getattr(bpy.ops.atelier, operator)(**kwargs)
    assert time.monotonic() - started < AT_ONCE
    assert (datablock_state(bpy), len(bpy.context.scene.atelier.history), job_folders(addon)) == before
    assert addon.client.session.active_jobs() == []
    message = str(refused.value)
    assert "Traceback" not in message
    assert message.strip().removeprefix("Error: ") in bpy.context.window_manager.atelier.last_error
    return message


def test_a_5_mib_prompt_is_refused_at_once_and_the_backend_serves_the_next(
        bpy_module, addon, clean_scene, backend_env, no_long_waits, monkeypatch):
    bpy = bpy_module
    mesh_object(bpy)
    message = refusal(bpy, addon, "generate_texture", prompt="b" * HUGE, **GENERATE)
    assert f"the prompt has {HUGE} characters; shorten it to 1000" in message
    monkeypatch.undo()  # the usual patience: a model may load for longer than the short wait
    assert bpy.ops.atelier.generate_texture(prompt="bricks", **GENERATE) == {"FINISHED"}


@pytest.mark.parametrize("field, words", [("prompt", "prompt"), ("negative_prompt", "negative prompt")])
def test_a_prompt_over_the_cap_is_refused(bpy_module, addon, clean_scene, backend_env, no_long_waits,
                                          field, words):
    mesh_object(bpy_module)
    kwargs = {"prompt": "bricks", field: "n" * 1001}
    message = refusal(bpy_module, addon, "generate_texture", **kwargs, **GENERATE)
    assert f"the {words} has 1001 characters; shorten it to 1000" in message


def test_a_request_line_over_the_limit_is_refused(bpy_module, addon, clean_scene, backend_env,
                                                 no_long_waits):
    """A model name is no prompt, but a 5 MiB one makes a line the backend would skip."""
    mesh_object(bpy_module)
    message = refusal(bpy_module, addon, "generate_texture", prompt="bricks", model="m" * HUGE, **GENERATE)
    assert "more than the backend reads in one line" in message
    assert "shorten its longest field, 'model'" in message


def test_a_guidance_that_is_not_a_number_is_refused(bpy_module, addon, clean_scene, backend_env,
                                                    no_long_waits):
    """NaN passes Blender's property (infinity becomes its largest float, which the backend refuses)."""
    mesh_object(bpy_module)
    message = refusal(bpy_module, addon, "generate_texture", prompt="bricks", guidance=math.nan, **GENERATE)
    assert "guidance nan is not a finite number; set one such as 7.5" in message


@pytest.mark.parametrize("operator, kwargs", [
    ("refine_texture", {"steps": 2}),
    ("upscale_texture", {}),
    ("inpaint_texture", {"mask": "Mask"}),
])
def test_an_image_edit_prompt_over_the_cap_is_refused(bpy_module, addon, clean_scene, backend_env,
                                                      no_long_waits, operator, kwargs):
    bpy = bpy_module
    picture_material(bpy, image_from_array(bpy, stripes(SIZE, SIZE)))
    mask_image(bpy, square_mask())
    message = refusal(bpy, addon, operator, prompt="n" * 1001, **kwargs)
    assert "the prompt has 1001 characters; shorten it to 1000" in message


# --------------------------------------------------------------------------- live preview


@pytest.fixture
def live(bpy_module, addon, clean_scene, backend_env, no_long_waits):
    """The live preview on a cube, with a preview of 'bricks' sent; off again after the test."""
    module = addon.operators.live_preview
    mesh_object(bpy_module)
    settings = clean_scene.atelier.texture
    settings.width = settings.height = 64
    settings.prompt, settings.seed = "bricks", 3
    module.start(bpy_module.context)
    yield module
    module.stop()


def preview_jobs(addon) -> list:
    return [job for job in addon.client.session.active_jobs() if job.request.preview]


@pytest.mark.parametrize("change, says", [
    ({"prompt": "b" * HUGE}, f"the prompt has {HUGE} characters; shorten it to 1000"),
    ({"guidance": math.nan, "prompt": "tiles"}, "field 'guidance' must be a finite number"),
])
def test_a_live_preview_that_cannot_be_sent_is_refused_in_the_panel(bpy_module, addon, clean_scene, live,
                                                                   change, says):
    bpy = bpy_module
    sent = [job.id for job in preview_jobs(addon)]
    folders = job_folders(addon)
    settings = clean_scene.atelier.texture
    for name, value in change.items():  # the prompt last: its change sends the preview
        setattr(settings, name, value)
    assert [job.id for job in preview_jobs(addon)] == sent  # nothing new waits for an answer
    assert job_folders(addon) == folders
    assert bpy.context.window_manager.atelier.last_error.startswith("Live preview: the")
    assert says in bpy.context.window_manager.atelier.last_error
