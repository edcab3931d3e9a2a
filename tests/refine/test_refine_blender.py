"""``atelier.refine_texture`` in real Blender with the real backend and the tiny SD model: the
material shows a new version of its picture, the history keeps the old one, one Ctrl+Z goes back."""

import json

import numpy as np
import pytest
from blender_maps import image_from_array, picture_material, read_pixels, stripes
from refine_scenes import SIZE, edit_state

from core.styles import BUILTIN_STYLES, expand


def test_refine_puts_a_new_version_on_the_material(bpy_module, picture_scene, backend_env):
    bpy = bpy_module
    obj, material, old = picture_scene
    old_pixels = read_pixels(old)
    assert bpy.ops.atelier.refine_texture(prompt="weathered planks", strength=0.6, steps=2,
                                          seed=11) == {"FINISHED"}

    node = next(n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage")
    new = node.image
    assert new.name == "Picture v2" and new != old
    assert tuple(new.size) == (SIZE, SIZE) and new.packed_file is not None
    assert np.abs(read_pixels(new) - old_pixels).max() > 0.05  # a new picture, not a copy
    record = json.loads(new["atelier_provenance"])
    assert record["task"] == "refine" and record["parameters"]["strength"] == pytest.approx(0.6)
    assert record["parameters"]["seed"] == 11 and record["parameters"]["prompt"] == "weathered planks"

    entry = bpy.context.scene.atelier.history[-1]
    assert (entry.kind, entry.image_name, entry.material_name) == ("REFINE", "Picture v2", "Picture")
    assert entry.previous_image == old and entry.strength == pytest.approx(0.6) and entry.seed == 11
    assert entry.targets == obj.name


def test_a_second_refine_counts_the_version_up(bpy_module, picture_scene, backend_env):
    bpy = bpy_module
    for seed in (1, 2):
        assert bpy.ops.atelier.refine_texture(prompt="rust", strength=0.5, steps=2, seed=seed) == {"FINISHED"}
    history = bpy.context.scene.atelier.history
    assert [(h.image_name, h.previous_image.name) for h in history] == [
        ("Picture v2", "Picture"), ("Picture v3", "Picture v2")]


def test_one_undo_goes_back_to_the_old_picture(bpy_module, picture_scene, backend_env):
    bpy = bpy_module
    bpy.ops.ed.undo_push(message="init")
    before = edit_state(bpy)
    assert bpy.ops.atelier.refine_texture("EXEC_DEFAULT", True, prompt="moss", strength=0.5, steps=2,
                                          seed=3) == {"FINISHED"}
    assert edit_state(bpy) != before
    bpy.ops.ed.undo()
    assert edit_state(bpy) == before
    assert bpy.data.materials["Picture"].node_tree.nodes["Image Texture"].image.name == "Picture"


def test_the_old_picture_survives_save_and_reload(bpy_module, picture_scene, backend_env, tmp_path):
    bpy = bpy_module
    old_pixels = read_pixels(picture_scene[2])
    assert bpy.ops.atelier.refine_texture(prompt="moss", strength=0.5, steps=2, seed=4) == {"FINISHED"}
    path = tmp_path / "versions.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    entry = bpy.context.scene.atelier.history[-1]
    # No material shows the old picture any more: only the history entry keeps it in the file.
    assert entry.previous_image is not None and entry.previous_image.name == "Picture"
    assert np.array_equal(read_pixels(entry.previous_image), old_pixels)


def test_a_deep_picture_stays_deep(bpy_module, clean_scene, backend_env):
    """A float (16-bit or more) picture goes as a 16-bit PNG; the new version is float too."""
    bpy = bpy_module
    rgb = stripes(SIZE, SIZE)
    image = bpy.data.images.new("Deep", SIZE, SIZE, float_buffer=True)
    rgba = np.ones((SIZE, SIZE, 4), dtype=np.float32)
    rgba[..., :3] = rgb
    image.pixels.foreach_set(rgba[::-1].ravel())
    picture_material(bpy, image, name="Deep")
    assert bpy.ops.atelier.refine_texture(prompt="stone", strength=0.5, steps=2, seed=5) == {"FINISHED"}
    new = bpy.data.images["Deep v2"]
    assert new.is_float and new.depth >= 48


def test_refine_a_named_material(bpy_module, clean_scene, backend_env):
    bpy = bpy_module
    picture_material(bpy, image_from_array(bpy, stripes(SIZE, SIZE), "First"), name="First")
    picture_material(bpy, image_from_array(bpy, stripes(SIZE, SIZE), "Second"), name="Second")
    assert bpy.context.active_object.active_material.name == "Second"
    assert bpy.ops.atelier.refine_texture(material="First", prompt="slate", steps=2, seed=6) == {"FINISHED"}
    assert "First v2" in bpy.data.images and "Second v2" not in bpy.data.images


def test_the_report_says_what_the_backend_changed(bpy_module, picture_scene, backend_env, capfd):
    """One step at strength 0.5 would run no denoising step: the backend raises the steps and
    the report says so (the result's notes)."""
    bpy = bpy_module
    capfd.readouterr()
    assert bpy.ops.atelier.refine_texture(strength=0.5, steps=1, seed=2) == {"FINISHED"}
    report = capfd.readouterr().out
    assert "Material 'Picture': new image 'Picture v2' (seed 2); steps raised from 1 to 2" in report
    assert json.loads(bpy.data.images["Picture v2"]["atelier_provenance"])["parameters"]["steps"] == 2


def test_regenerate_refuses_a_refined_entry_and_says_why(bpy_module, picture_scene, backend_env):
    """A refined version was made from its previous picture; a prompt alone cannot make it again."""
    bpy = bpy_module
    assert bpy.ops.atelier.refine_texture(prompt="moss", strength=0.5, steps=2, seed=4) == {"FINISHED"}
    scene = bpy.context.scene
    assert scene.atelier.history[scene.atelier.history_index].kind == "REFINE"
    before = edit_state(bpy)
    assert not bpy.ops.atelier.texture_history_regenerate.poll()
    with pytest.raises(RuntimeError, match="'Picture v2' was refined from 'Picture', not generated from a "
                                           "prompt; select a generated entry, or use Refine"):
        bpy.ops.atelier.texture_history_regenerate()
    assert edit_state(bpy) == before


def test_a_builtin_style_words_the_refine_and_both_are_recorded(bpy_module, picture_scene, backend_env):
    """The new image's record holds the expanded prompts and the style; the history keeps the
    artist's own words with the style's name."""
    bpy = bpy_module
    made = bpy.ops.atelier.refine_texture(prompt="old oak planks", negative_prompt="nails",
                                          style="hand-painted", strength=0.5, steps=2, seed=12)
    assert made == {"FINISHED"}
    parameters = json.loads(bpy.data.images["Picture v2"]["atelier_provenance"])["parameters"]
    prompt, negative = expand(BUILTIN_STYLES["hand-painted"], "old oak planks", "nails")
    assert prompt != "old oak planks" and negative != "nails"
    assert (parameters["prompt"], parameters["negative_prompt"], parameters["style"]) == (
        prompt, negative, "hand-painted")
    entry = bpy.context.scene.atelier.history[-1]
    assert (entry.prompt, entry.negative_prompt, entry.style) == ("old oak planks", "nails", "hand-painted")
