"""``atelier.generate_palette`` end to end: Blender, the real backend subprocess, tiny models."""

import json
import os
import time

import numpy as np
import panel_recorder
import pytest
from PIL import Image, ImageDraw


@pytest.fixture
def palette_env(backend_env, tiny_text_model, monkeypatch):
    """The real backend (see ``backend_env``) with the tiny instruct model as the text model."""
    monkeypatch.setenv("ATELIER_TEXT_MODEL", str(tiny_text_model))
    # A backend started from here runs tiny models on one thread: on a shared CPU more only wait.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tiny_text_model


def _nothing_made(bpy, scene):
    return len(bpy.data.palettes) == 0 and len(scene.atelier.palettes) == 0


def _info(scene, palette):
    return scene.atelier.palettes[palette.name]


def _two_colour_png(path, alpha_band=False):
    image = Image.new("RGBA", (64, 64), (40, 90, 200, 255))
    ImageDraw.Draw(image).rectangle((0, 0, 63, 15), fill=(240, 200, 30, 255))  # 16 rows
    if alpha_band:
        ImageDraw.Draw(image).rectangle((0, 48, 63, 63), fill=(0, 255, 0, 0))
    image.save(path)
    return path


def test_harmony_through_the_backend_makes_a_palette(bpy_module, addon, clean_scene, palette_env):
    bpy = bpy_module
    result = bpy.ops.atelier.generate_palette(source="HARMONY", harmony="TRIADIC",
                                              base_color=(0.2, 0.4, 0.8), count=6)
    assert result == {"FINISHED"}
    palette = clean_scene.atelier.palette.palette
    assert palette is not None and len(palette.colors) == 6
    hexes = [addon.apply.palette.palette_color_hex(c) for c in palette.colors]
    assert hexes[0] == "#3366cc"
    info = _info(clean_scene, palette)
    assert info.colors[0].role == "primary" and all(c.label for c in info.colors)
    assert json.loads(info.provenance)["engine"] == "colors.harmony"


def test_undo_removes_the_palette_and_its_names(bpy_module, addon, clean_scene, palette_env):
    bpy = bpy_module
    bpy.ops.ed.undo_push(message="init")
    assert bpy.ops.atelier.generate_palette("EXEC_DEFAULT", True, source="HARMONY", harmony="TRIADIC",
                                            count=3) == {"FINISHED"}
    assert len(bpy.data.palettes) == 1 and len(bpy.context.scene.atelier.palettes) == 1
    bpy.ops.ed.undo()
    assert _nothing_made(bpy, bpy.context.scene)


def test_image_file_through_the_backend(bpy_module, addon, clean_scene, palette_env, tmp_path, capfd):
    path = _two_colour_png(tmp_path / "two.png", alpha_band=True)
    assert bpy_module.ops.atelier.generate_palette(source="IMAGE", image=str(path), count=4) == {"FINISHED"}
    assert "the image has 2 distinct colour(s), so 2 lighter or darker step(s)" in capfd.readouterr().out
    palette = clean_scene.atelier.palette.palette
    hexes = [addon.apply.palette.palette_color_hex(c) for c in palette.colors]
    assert len(hexes) == 4  # two from the image, completed with steps of them
    assert hexes[:2] == ["#285ac8", "#f0c81e"]  # blue covers more than yellow; the green band is transparent


def _painted(bpy, red_rows=10):
    """A generated 16 x 16 Image datablock (no file): red on ``red_rows`` rows, blue below."""
    image = bpy.data.images.new("Painted", 16, 16)
    pixels = np.zeros((16, 16, 4), dtype=np.float32)
    pixels[:, :, 3] = 1.0
    pixels[:red_rows, :, 0] = 1.0
    pixels[red_rows:, :, 2] = 1.0
    image.pixels.foreach_set(pixels.ravel())
    return image


def _input_copies(bpy, addon):
    """Temporary copies of Image datablocks left in the jobs folder."""
    jobs_dir = bpy.utils.extension_path_user(addon.__name__, path="jobs", create=True)
    return [name for name in os.listdir(jobs_dir) if name.startswith("palette-input-")]


def test_generated_image_datablock_is_copied_for_the_backend(bpy_module, addon, clean_scene, palette_env):
    bpy = bpy_module
    image = _painted(bpy)
    assert bpy.ops.atelier.generate_palette(source="IMAGE", image="Painted", count=3) == {"FINISHED"}
    hexes = [addon.apply.palette.palette_color_hex(c) for c in clean_scene.atelier.palette.palette.colors]
    assert len(hexes) == 3 and hexes[:2] == ["#ff0000", "#0000ff"]
    assert image.source == "GENERATED" and image.filepath == ""  # the datablock itself is untouched
    assert [i.name for i in bpy.data.images] == ["Painted"]
    assert not _input_copies(bpy, addon)
    palette = clean_scene.atelier.palette.palette  # named after the datablock, not its temporary copy
    assert palette.name == "Painted" and _info(clean_scene, palette).title == "Painted"


def test_the_datablock_copy_is_deleted_when_the_job_fails(bpy_module, addon, clean_scene, palette_env):
    bpy = bpy_module
    _painted(bpy, red_rows=16)  # one flat colour: the backend refuses it
    with pytest.raises(RuntimeError, match="one flat colour"):
        bpy.ops.atelier.generate_palette(source="IMAGE", image="Painted", count=3)
    assert _nothing_made(bpy, clean_scene) and [i.name for i in bpy.data.images] == ["Painted"]
    assert not _input_copies(bpy, addon)


def test_the_datablock_copy_is_deleted_when_the_job_is_cancelled(bpy_module, addon, clean_scene, palette_env,
                                                                 monkeypatch):
    """Cancelled while the blocking operator waits (what a second Esc does in the UI: the job
    ends at once, the backend's answer no longer matters)."""
    bpy, jobs = bpy_module, addon.client.session
    _painted(bpy)
    copies_sent = []
    real_wait = jobs.wait

    def cancel_then_wait(client, job, **kwargs):
        copies_sent.extend(_input_copies(bpy, addon))
        jobs.abandon(job, "cancelled")
        return real_wait(client, job, **kwargs)

    monkeypatch.setattr(jobs, "wait", cancel_then_wait)
    assert bpy.ops.atelier.generate_palette(source="IMAGE", image="Painted", count=3) == {"CANCELLED"}
    assert len(copies_sent) == 1  # the copy existed while the job ran
    assert not _input_copies(bpy, addon)
    assert _nothing_made(bpy, clean_scene) and [i.name for i in bpy.data.images] == ["Painted"]
    monkeypatch.undo()
    assert bpy.ops.atelier.generate_palette(source="HARMONY", count=3) == {"FINISHED"}


def test_prompt_through_the_tiny_text_model(bpy_module, addon, clean_scene, palette_env):
    """A random model repeats colours and forgets the primary; every answer still lands as a
    scheme of the count asked, with a primary (repeats are completed, never refused)."""
    bpy = bpy_module
    for seed in range(4):
        assert bpy.ops.atelier.generate_palette(source="PROMPT", prompt="rainy neon alley", count=4,
                                                seed=seed) == {"FINISHED"}
        made = clean_scene.atelier.palette.palette
        info = _info(clean_scene, made)
        assert len(made.colors) == 4 and "primary" in [c.role for c in info.colors]
        record = json.loads(info.provenance)
        assert record["engine"] == "transformers" and record["attempts"] == 1
        assert 0 <= record["colors_added"] < 4


def test_prompt_image_through_the_tiny_texture_model(bpy_module, addon, clean_scene, palette_env):
    assert bpy_module.ops.atelier.generate_palette(
        source="PROMPT_IMAGE", prompt="moroccan sunset", count=5, seed=3) == {"FINISHED"}
    palette = clean_scene.atelier.palette.palette
    assert 2 <= len(palette.colors) <= 5
    record = json.loads(_info(clean_scene, palette).provenance)
    assert record["texture"]["engine"] == "diffusers"


def test_builtin_text_model_runs_without_a_backend(bpy_module, addon, clean_scene, monkeypatch):
    bpy = bpy_module
    monkeypatch.setenv("ATELIER_TEXT_MODEL", "builtin")
    monkeypatch.delenv("ATELIER_PYTHON", raising=False)
    assert bpy.ops.atelier.generate_palette(source="PROMPT", prompt="calm ocean at dawn", count=5,
                                            seed=1) == {"FINISHED"}
    assert bpy.ops.atelier.generate_palette(source="HARMONY", harmony="ANALOGOUS", count=3) == {"FINISHED"}
    assert len(bpy.data.palettes) == 2
    assert {json.loads(p.provenance)["parameters"]["source"] for p in clean_scene.atelier.palettes} == {
        "prompt", "harmony"}


def test_async_path_drains_into_a_palette(bpy_module, addon, clean_scene, palette_env):
    """What the modal timer does: submit, drain until done, then create the palette."""
    jobs, preferences = addon.client.session, addon.preferences
    client = jobs.client_for(preferences.backend_config(jobs.EXTENSION_DIR))
    request = addon.core.protocol.PaletteRequest(
        id=jobs.new_request_id(), source="harmony", harmony="monochrome", base_color="#884422", count=4)
    job = jobs.submit(client, request, label="palette")
    deadline = time.monotonic() + 60
    while not job.done:
        assert time.monotonic() < deadline, job.stage
        jobs.drain(client)
        time.sleep(0.05)
    assert job.error is None, job.error
    palette = addon.apply.palette.create_palette(clean_scene, job.result.scheme, source="HARMONY")
    assert addon.apply.palette.palette_color_hex(palette.colors[0]) == "#884422"


@pytest.fixture
def bad_images(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    Image.new("RGBA", (32, 32), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("RGB", (32, 32), (90, 120, 30)).save(tmp_path / "flat.png")
    return tmp_path


@pytest.mark.parametrize("kwargs, message", [
    ({"source": "PROMPT", "prompt": "  "}, "the prompt is empty"),
    ({"source": "IMAGE", "image": "Lost"}, "has no pixels"),
    ({"source": "PROMPT_IMAGE", "prompt": ""}, "the prompt is empty"),
    ({"source": "IMAGE", "image": "{dir}/missing.png"}, "neither an Image datablock nor an existing file"),
    ({"source": "IMAGE", "image": "{dir}/empty.png"}, "cannot be read"),
    ({"source": "IMAGE", "image": "{dir}/clear.png"}, "fully transparent"),
    ({"source": "IMAGE", "image": "{dir}/flat.png"}, "one flat colour"),
    ({"source": "HARMONY", "count": 2}, "out of range"),
    ({"source": "HARMONY", "count": 13}, "out of range"),
    ({"source": "PROMPT", "prompt": "alley", "count": 40}, "out of range"),
])
def test_bad_input_is_a_clear_error_and_the_scene_is_unchanged(bpy_module, addon, clean_scene, palette_env,
                                                                bad_images, kwargs, message):
    bpy = bpy_module
    lost = bpy.data.images.load(str(bad_images / "flat.png"), check_existing=False)
    lost.name = "Lost"
    lost.filepath = str(bad_images / "gone.png")  # its file is missing: the datablock has no pixels
    lost.reload()
    if "image" in kwargs:
        kwargs = {**kwargs, "image": kwargs["image"].format(dir=bad_images)}
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.atelier.generate_palette(**kwargs)
    assert _nothing_made(bpy, clean_scene)
    assert [i.name for i in bpy.data.images] == ["Lost"] and not _input_copies(bpy, addon)
    assert message in bpy.context.window_manager.atelier.last_error
    # The backend survived and serves the next request.
    assert bpy.ops.atelier.generate_palette(source="HARMONY", count=3) == {"FINISHED"}



def test_panel_shows_swatches_with_names_and_roles(bpy_module, addon, clean_scene, monkeypatch, job_state):
    bpy = bpy_module
    monkeypatch.setenv("ATELIER_TEXT_MODEL", "builtin")
    assert bpy.ops.atelier.generate_palette(source="PROMPT", prompt="calm ocean at dawn", count=4,
                                            seed=1) == {"FINISHED"}
    settings = clean_scene.atelier.palette
    settings.palette = bpy.data.palettes[-1]
    info = clean_scene.atelier.palettes[settings.palette.name]
    calls = panel_recorder.draw(bpy, addon.panels.palette.ATELIER_PT_palette)
    text = panel_recorder.labels(calls)
    swatches = [args[0] for name, args, kwargs in calls if name == "prop" and args[1] == "color"]
    assert swatches == list(settings.palette.colors)
    for entry in info.colors:
        assert entry.label in text and entry.role in text
    assert "Made by builtin, templates 'calm', 'ocean', 'sunset', seed 1" in " ".join(text)  # built-in
    apply_button = panel_recorder.operator_settings(calls, "atelier.apply_palette")[0]
    assert apply_button["palette"] == settings.palette.name

    # While the palette job runs the button gives way to its progress bar and Cancel; an error stays.
    state = job_state
    state.running, state.job_operator, state.progress = True, "atelier.generate_palette", 0.25
    state.last_error, state.last_error_operator = "the image is one flat colour", "atelier.generate_palette"
    calls = panel_recorder.draw(bpy, addon.panels.palette.ATELIER_PT_palette)
    assert not panel_recorder.operator_settings(calls, "atelier.generate_palette")
    assert any(name == "progress" and kwargs["factor"] == 0.25 for name, args, kwargs in calls)
    assert "the image is one flat colour" in panel_recorder.labels(calls)
