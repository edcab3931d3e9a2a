"""``style`` on ``atelier.generate_texture`` in real Blender with the real backend and a tiny model:
what is sent and recorded, which settings win, and refusals that leave the scene as it was."""

import json

import pytest
from blender_helpers import mesh_object
from panel_recorder import draw, operator_settings
from scene_state import scene_state

from core.styles import BUILTIN_STYLES, expand

SMALL = dict(width=64, height=64, seed=7, maps=set())
# A style of the artist's own, with a default for every texture setting a style may supply.
ETCHING = {"test-etching": {"label": "Etching", "prompt": "{prompt}, copper plate etching",
                            "negative_prompt": "colour", "defaults": {"steps": 3, "guidance": 2.5,
                                                                      "seamless": "off"}}}


@pytest.fixture
def styles_file(addon):
    """Writes ``styles.json`` in the session's Atelier user folder; removed again afterwards."""
    path = addon.preferences.styles_file()
    assert not path.exists(), f"{path} was left by an earlier test"

    def write(document) -> str:
        path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
        return str(path)

    yield write
    path.unlink(missing_ok=True)


def made(bpy) -> tuple[dict, object]:
    """The provenance parameters of the texture just made, and its history entry."""
    entry = bpy.context.scene.atelier.history[-1]
    record = json.loads(bpy.data.images[entry.image_name]["atelier_provenance"])
    assert json.loads(entry.provenance) == record
    return record["parameters"], entry


def test_a_style_sends_the_expanded_prompts_and_both_are_recorded(bpy_module, clean_scene, backend_env):
    bpy = bpy_module
    mesh_object(bpy)
    assert bpy.ops.atelier.generate_texture(prompt="mossy stone wall", negative_prompt="snow",
                                            style="Hand Painted", steps=2, **SMALL) == {"FINISHED"}
    parameters, entry = made(bpy)
    prompt, negative = expand(BUILTIN_STYLES["hand-painted"], "mossy stone wall", "snow")
    assert parameters["style"] == "hand-painted"
    assert (parameters["prompt"], parameters["negative_prompt"]) == (prompt, negative)
    assert prompt.startswith("mossy stone wall, hand-painted texture") and negative.startswith("snow, photo")
    # The history keeps the artist's words and the style, so Regenerate makes it again.
    assert (entry.style, entry.prompt, entry.negative_prompt) == ("hand-painted", "mossy stone wall", "snow")
    assert entry.material_name == "mossy stone wall"


def test_regenerate_uses_the_entrys_style(bpy_module, clean_scene, backend_env):
    bpy = bpy_module
    mesh_object(bpy)
    bpy.ops.atelier.generate_texture(prompt="oak planks", style="watercolour", steps=2, **SMALL)
    first, _ = made(bpy)
    assert bpy.ops.atelier.texture_history_regenerate() == {"FINISHED"}
    again, entry = made(bpy)
    assert len(clean_scene.atelier.history) == 2 and entry.style == "watercolour"
    assert {k: again[k] for k in ("prompt", "negative_prompt", "style", "steps", "seed")} == {
        k: first[k] for k in ("prompt", "negative_prompt", "style", "steps", "seed")}


def test_passed_settings_beat_the_styles_defaults_and_unpassed_ones_take_them(
        bpy_module, clean_scene, backend_env, styles_file):
    bpy = bpy_module
    styles_file(ETCHING)
    mesh_object(bpy)
    bpy.ops.atelier.generate_texture(prompt="brass gears", style="test-etching", **SMALL)
    parameters, entry = made(bpy)
    assert (parameters["steps"], parameters["guidance"], parameters["seamless"]) == (3, 2.5, "off")
    assert (entry.steps, entry.guidance, entry.seamless) == (3, 2.5, "OFF")
    assert (parameters["prompt"], parameters["negative_prompt"]) == ("brass gears, copper plate etching",
                                                                     "colour")

    bpy.ops.atelier.generate_texture(prompt="brass gears", style="test-etching", steps=2, seamless="XY",
                                     **SMALL)
    parameters, entry = made(bpy)
    assert (parameters["steps"], parameters["guidance"], parameters["seamless"]) == (2, 2.5, "xy")
    assert (entry.steps, entry.seamless) == (2, "XY")

    # Passed as 0 is passed: the model's recommended guidance (the tiny SD model's 7.5), not the style's.
    bpy.ops.atelier.generate_texture(prompt="brass gears", style="test-etching", guidance=0.0, **SMALL)
    parameters, _ = made(bpy)
    assert (parameters["steps"], parameters["guidance"]) == (3, 7.5)


def test_a_users_style_replaces_the_builtin_of_that_name(bpy_module, clean_scene, backend_env, styles_file):
    bpy = bpy_module
    styles_file({"watercolour": {"prompt": "{prompt}, ink wash"}})
    mesh_object(bpy)
    bpy.ops.atelier.generate_texture(prompt="harbour", style="watercolour", steps=2, **SMALL)
    parameters, _ = made(bpy)
    assert (parameters["prompt"], parameters["negative_prompt"]) == ("harbour, ink wash", "")


def state(bpy) -> tuple:
    return scene_state(bpy), sorted(i.name for i in bpy.data.images), len(bpy.context.scene.atelier.history)


def refused(bpy, match: str, **arguments) -> str:
    """Runs generate_texture, which must fail with ``match`` and change nothing; the message."""
    before = state(bpy)
    with pytest.raises(RuntimeError, match=match) as error:
        bpy.ops.atelier.generate_texture(**{"prompt": "granite", "steps": 2, **SMALL, **arguments})
    assert "Traceback" not in str(error.value)
    assert state(bpy) == before
    return str(error.value)


def test_an_unknown_style_is_refused_naming_the_known_ones(bpy_module, clean_scene, backend_env):
    mesh_object(bpy_module)
    message = refused(bpy_module, r"unknown style 'oil paint'; use one of", style="oil paint")
    assert all(name in message for name in BUILTIN_STYLES) and "styles.json" in message


def test_a_broken_styles_file_is_refused_naming_the_file_and_the_fix(
        bpy_module, clean_scene, backend_env, styles_file):
    bpy = bpy_module
    path = styles_file({"chalk": {"prompt": "chalk drawing", "defaults": {"denoise": 1}}})
    mesh_object(bpy)
    message = refused(bpy, "the styles file", style="hand-painted")
    assert path in message
    assert "chalk.prompt has no {prompt}; put {prompt} where the artist's prompt goes" in message
    assert "chalk.defaults has unknown field(s) 'denoise'" in message
    styles_file('{"chalk": {"prompt": "{prompt}, chalk"}')
    assert path in refused(bpy, r"cannot be used: not valid JSON: .*line 1", style="chalk")
    # Without a style the file is not read: textures are still made.
    assert bpy.ops.atelier.generate_texture(prompt="granite", steps=2, **SMALL) == {"FINISHED"}


def test_a_prompt_too_long_with_its_style_is_refused(bpy_module, clean_scene, backend_env):
    mesh_object(bpy_module)
    refused(bpy_module, r"the prompt with style 'scanned-photo' has \d+ characters, more than 1000; "
                        r"shorten your prompt to \d+ characters",
            style="scanned-photo", prompt="granite " * 120)


def test_the_builtin_engine_reads_the_expanded_prompt(bpy_module, clean_scene, monkeypatch):
    bpy = bpy_module
    monkeypatch.setenv("ATELIER_TEXTURE_MODEL", "builtin")
    mesh_object(bpy)
    assert bpy.ops.atelier.generate_texture(prompt="red brick wall", style="evenly-lit-albedo",
                                            seed=3, maps=set()) == {"FINISHED"}
    entry = clean_scene.atelier.history[-1]
    record = json.loads(bpy.data.materials[entry.material_name]["atelier_provenance"])
    expanded, _ = expand(BUILTIN_STYLES["evenly-lit-albedo"], "red brick wall", "")
    assert (record["parameters"]["prompt"], record["parameters"]["style"]) == (expanded, "evenly-lit-albedo")
    assert record["parameters"]["recipe"] == "brick"  # the style's words name no material
    assert (entry.style, entry.prompt, entry.seamless) == ("evenly-lit-albedo", "red brick wall", "XY")


def test_the_panel_offers_the_style_and_leaves_untouched_settings_to_it(bpy_module, clean_scene, backend_env):
    bpy = bpy_module
    mesh_object(bpy)
    settings = clean_scene.atelier.texture
    settings.prompt, settings.style = "sand dunes", "watercolour"
    calls = draw(bpy, bpy.types.ATELIER_PT_texture)
    assert any(name == "prop" and args[1] == "style" for name, args, _ in calls)
    [sent] = operator_settings(calls, "atelier.generate_texture")
    assert sent["style"] == "watercolour" and not {"steps", "guidance", "seamless"} & set(sent)
    settings.steps, settings.seamless = 4, "X"
    [sent] = operator_settings(draw(bpy, bpy.types.ATELIER_PT_texture), "atelier.generate_texture")
    assert (sent["steps"], sent["seamless"]) == (4, "X") and "guidance" not in sent


def test_the_style_field_lists_builtin_and_user_styles(addon, styles_file):
    names = addon.properties.style.style_names
    listed = dict(names(None, None, ""))
    assert set(listed) == set(BUILTIN_STYLES)
    assert listed["evenly-lit-albedo"].startswith("Evenly Lit Albedo: Base colour only")
    assert [name for name, _ in names(None, None, "Hand P")] == ["hand-painted"]
    styles_file(ETCHING)
    assert dict(names(None, None, "etch")) == {"test-etching": "Etching"}
    styles_file("{broken")  # the list still offers the built-in styles; running says what is wrong
    assert {name for name, _ in names(None, None, "")} == set(BUILTIN_STYLES)


def test_a_palette_painted_from_a_prompt_takes_the_style(bpy_module, addon, clean_scene, backend_env):
    """PROMPT_IMAGE paints a picture with the texture model: the style words that picture."""
    bpy = bpy_module
    assert bpy.ops.atelier.generate_palette(source="PROMPT_IMAGE", prompt="desert market",
                                            style="watercolour", count=4, seed=2) == {"FINISHED"}
    palette = clean_scene.atelier.palette.palette
    record = json.loads(clean_scene.atelier.palettes[palette.name].provenance)
    prompt, negative = expand(BUILTIN_STYLES["watercolour"], "desert market", "")
    assert (record["parameters"]["prompt"], record["parameters"]["style"]) == (prompt, "watercolour")
    painted = record["texture"]["parameters"]
    assert (painted["prompt"], painted["negative_prompt"]) == (prompt, negative)
    assert painted["style"] == "watercolour"


@pytest.mark.parametrize("source", ["PROMPT", "HARMONY", "IMAGE"])
def test_a_style_on_a_palette_that_paints_nothing_is_refused(bpy_module, addon, clean_scene, source):
    bpy = bpy_module
    before = scene_state(bpy)
    with pytest.raises(RuntimeError, match=f"style applies to the painted picture of source PROMPT_IMAGE, "
                                           f"not to {source}; clear style"):
        bpy.ops.atelier.generate_palette(source=source, prompt="calm sea", image="x.png", style="watercolour")
    assert scene_state(bpy) == before and len(bpy.data.palettes) == 0


def test_the_palette_panel_offers_the_style_for_a_painted_picture_only(bpy_module, addon, clean_scene,
                                                                       backend_env):
    bpy = bpy_module
    settings = clean_scene.atelier.palette
    settings.prompt, settings.style = "harbour at night", "hand-painted"
    for source, shown in (("PROMPT_IMAGE", True), ("PROMPT", False)):
        settings.source = source
        calls = draw(bpy, bpy.types.ATELIER_PT_palette)
        assert any(name == "prop" and args[1] == "style" for name, args, _ in calls) == shown
        [sent] = operator_settings(calls, "atelier.generate_palette")
        assert sent.get("style") == ("hand-painted" if shown else None)
