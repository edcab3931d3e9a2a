"""The built-in ideas engine: block-out templates chosen by words, written in the idea schema."""

import importlib
import json
from pathlib import Path

import jsonschema
import pytest
from coloraide import Color

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "core/schemas/scene_idea.json").read_text())
TEMPLATES = ["product_shot", "interior_room", "street_alley", "landscape", "still_life",
             "portrait_studio", "scifi_corridor"]


@pytest.fixture(scope="module")
def idea_rules(addon):
    return addon.core.ideas


def test_the_issue_s_templates_are_all_there(builtin):
    assert list(builtin.ideas.templates()) == TEMPLATES


@pytest.mark.parametrize(("prompt", "expected"), [
    ("a perfume bottle advert", "product_shot"),
    ("cozy living room with a sofa", "interior_room"),
    ("rainy alley in the city at night", "street_alley"),
    ("mountain lake under a big sky", "landscape"),
    ("apples and a vase on a table", "still_life"),
    ("portrait of an old sailor", "portrait_studio"),
    ("sci-fi spaceship corridor", "scifi_corridor"),
])
def test_the_prompt_s_words_choose_the_template(builtin, prompt, expected):
    ideas, record = builtin.ideas.suggest_ideas(prompt, 1, seed=1)
    assert record["template"] == [expected]
    assert ideas[0]["title"] == builtin.ideas.templates()[expected]["title"]


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_every_template_is_a_valid_sensible_idea(builtin, idea_rules, template_id):
    colors, _ = builtin.palette.make_palette("calm ocean", 6, seed=2)
    idea = builtin.ideas.build_idea(template_id, colors, "a prompt with \"quotes\" and a \\ slash")
    cleaned, _ = idea_rules.check_idea(idea)  # Atelier's own validator (sanitises text)
    jsonschema.validate(cleaned, SCHEMA)  # and the reference validator agrees
    assert idea_rules.semantic_problems(cleaned) == []
    palette = {c["hex"] for c in colors["colors"]}
    object_colors = {obj["material"]["color"] for obj in cleaned["objects"]}
    assert len(object_colors & palette) >= 3  # coloured by the prompt's palette
    assert cleaned["palette"] == [c["hex"] for c in colors["colors"]]


def test_lights_point_at_their_targets(builtin):
    import mathutils

    idea = builtin.ideas.build_idea("product_shot", builtin.palette.make_palette("red", 6, 1)[0], "x")
    for light, spec in zip(idea["lights"], builtin.ideas.templates()["product_shot"]["lights"], strict=True):
        euler = mathutils.Euler([a * 3.141592653589793 / 180 for a in light["rotation"]], "XYZ")
        shines = euler.to_matrix() @ mathutils.Vector((0, 0, -1))
        wanted = (mathutils.Vector(spec["target"]) - mathutils.Vector(spec["location"])).normalized()
        assert shines.dot(wanted) > 0.999


def test_ideas_are_different_templates_best_first(builtin, idea_rules):
    ideas, record = builtin.ideas.suggest_ideas("a red sneaker on a city street", 5, seed=3)
    assert len(ideas) == 5 and len(set(record["template"])) == 5
    assert record["template"][:2] == ["street_alley", "product_shot"] or \
        record["template"][:2] == ["product_shot", "street_alley"]
    idea_rules.check_ideas_document({"ideas": ideas}, 5)
    assert record["engine"] == "builtin" and record["seed"] == 3


def test_the_prompt_s_colours_colour_the_block_out(builtin):
    ideas, _ = builtin.ideas.suggest_ideas("a red perfume bottle", 1, seed=1)
    product = next(obj for obj in ideas[0]["objects"] if obj["name"] == "Product")
    hue = Color(product["material"]["color"]).convert("oklch")["hue"]
    assert abs((hue - 29.2 + 180) % 360 - 180) < 15


def test_the_seed_varies_the_colours_and_repeats_them(builtin):
    first = builtin.ideas.suggest_ideas("living room", 1, seed=5)[0]
    assert builtin.ideas.suggest_ideas("living room", 1, seed=5)[0] == first
    palettes = {tuple(builtin.ideas.suggest_ideas("living room", 1, seed=s)[0][0]["palette"])
                for s in range(6)}
    assert len(palettes) > 1


def test_an_unknown_subject_still_gets_object_centred_ideas(builtin):
    ideas, record = builtin.ideas.suggest_ideas("a teapot shaped like a snail", 2, seed=1)
    assert record["template"][0] in ("product_shot", "still_life")


@pytest.mark.parametrize(("prompt", "count", "message"), [
    ("", 3, "prompt is empty"), ("   ", 3, "prompt is empty"), ("x" * 1001, 3, "shorten it"),
    ("room", 0, "from 1 to 5"), ("room", 6, "from 1 to 5")])
def test_bad_requests_say_what_to_change(builtin, prompt, count, message):
    with pytest.raises(ValueError, match=message):
        builtin.ideas.suggest_ideas(prompt, count, seed=1)


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_every_template_builds_in_blender_and_renders(builtin, addon, clean_scene, bpy_module,
                                                      template_id, tmp_path):
    import numpy as np
    from PIL import Image

    colors, _ = builtin.palette.make_palette("calm ocean", 6, seed=2)
    idea = builtin.ideas.build_idea(template_id, colors, "calm ocean")
    # The same applier that builds model ideas.
    applier = importlib.import_module(f"{addon.__name__}.apply.scene_idea")
    built = applier.build_idea(clean_scene, idea, source="builtin")
    assert len(built.objects) == len(idea["objects"])
    assert len(built.lights) == len(idea["lights"])
    assert clean_scene.camera == built.camera and clean_scene.world == built.world
    render = clean_scene.render
    render.engine = "CYCLES"
    clean_scene.cycles.device = "CPU"
    clean_scene.cycles.samples = 2
    render.resolution_x, render.resolution_y = 48, 32
    render.filepath = str(tmp_path / "idea.png")
    bpy_module.ops.render.render(write_still=True)
    pixels = np.asarray(Image.open(render.filepath).convert("RGB"), dtype=float)
    assert pixels.std() > 5  # the camera sees the block-out, not an empty world
