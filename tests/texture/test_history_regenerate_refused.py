"""``atelier.texture_history_regenerate`` on an entry whose settings no longer work: the texture
operator's refusal is reported as Regenerate's own error (its message, no traceback), and the
scene and the history stay as they were."""

import json

import pytest
from blender_helpers import mesh_object
from scene_state import datablock_state


@pytest.fixture
def entry(bpy_module, addon, clean_scene, backend_env):
    """A history entry made by the built-in engine (no backend job), for a cube that is selected."""
    mesh_object(bpy_module)
    assert bpy_module.ops.atelier.generate_texture(prompt="red brick wall", model="builtin", seed=3,
                                                   maps=set()) == {"FINISHED"}
    return clean_scene.atelier.history[0]


def state(bpy) -> tuple:
    history = bpy.context.scene.atelier.history
    return datablock_state(bpy), [(item.name, item.material_name, item.image_name) for item in history]


def regenerate_refused(bpy, match: str) -> str:
    """Regenerate entry 0, which must fail with ``match`` as its only error and change nothing."""
    before = state(bpy)
    with pytest.raises(RuntimeError, match=match) as error:
        bpy.ops.atelier.texture_history_regenerate(index=0)
    message = str(error.value)
    assert "Traceback" not in message and "Python" not in message
    assert message.startswith("Error: ") and not message.startswith("Error: Error:")
    assert state(bpy) == before
    return message


def test_a_user_style_that_is_gone_is_refused_naming_the_styles(bpy_module, addon, entry):
    path = addon.preferences.styles_file()
    assert not path.exists(), f"{path} was left by an earlier test"
    # The artist's style existed when the entry was made; styles.json has gone since.
    path.write_text(json.dumps({"my-look": {"prompt": "{prompt}, my look"}}), encoding="utf-8")
    try:
        entry.style = "my-look"
    finally:
        path.unlink()
    message = regenerate_refused(bpy_module, r"unknown style 'my-look'; use one of")
    assert "styles.json" in message


def test_a_model_folder_that_is_gone_is_refused(bpy_module, entry, tmp_path):
    entry.model = str(tmp_path / "deleted-model")
    regenerate_refused(bpy_module, r"deleted-model' does not exist")


def test_an_edited_size_is_refused_saying_what_sizes_work(bpy_module, entry):
    entry.model = ""  # the session's texture model, on the backend
    entry.width = 100
    regenerate_refused(bpy_module, "width 100 is not a multiple of")
