"""The built-in palette engine: named colours, mood and material families, harmony rules."""

import json
from pathlib import Path

import jsonschema
import pytest
from coloraide import Color

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "core/schemas/palette.json").read_text())


def _hue_distance(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


def _lch(hex_color):
    return Color(hex_color).convert("oklch")


@pytest.mark.parametrize("prompt", [
    "calm ocean", "red and gold luxury", "cyberpunk alley at night", "marble", "dark blue",
    "golden sunset over the desert", "a cozy autumn cabin", "white", "Mossy grass & bark!!",
    "1984 neon arcade", "black and white minimal"])
@pytest.mark.parametrize("count", [3, 5, 12])
def test_palettes_follow_the_palette_schema(builtin, prompt, count):
    data, record = builtin.palette.make_palette(prompt, count, seed=4)
    jsonschema.validate(data, SCHEMA)
    assert len(data["colors"]) == count
    assert len({color["hex"] for color in data["colors"]}) == count
    assert [c["role"] for c in data["colors"]].count("primary") == 1
    assert record["engine"] == "builtin" and record["seed"] == 4


@pytest.mark.parametrize(("prompt", "hex_color"), [
    ("red", "#ff0000"), ("rebeccapurple walls", "#663399"), ("a navy coat", "#000080"),
    ("dark blue", "#00008b"), ("terracotta pots", "#c8643c"), ("light grey", "#d3d3d3")])
def test_named_colours_come_from_the_standard_table_first(builtin, prompt, hex_color):
    data, _ = builtin.palette.make_palette(prompt, 5, seed=1)
    assert data["colors"][0]["hex"] == hex_color
    assert data["colors"][0]["role"] == "primary"


@pytest.mark.parametrize(("prompt", "hue"), [
    ("red", 29.2), ("orange", 70.7), ("yellow", 109.8), ("green", 142.5), ("teal", 194.8),
    ("blue", 264.1), ("purple", 328.4), ("pale green", 142.5), ("deep pink", 354.0)])
def test_colour_words_map_to_their_hues(builtin, prompt, hue):
    data, _ = builtin.palette.make_palette(prompt, 5, seed=1)
    assert _hue_distance(_lch(data["colors"][0]["hex"])["hue"], hue) < 12


def test_modifiers_shift_lightness_of_colours_without_such_a_name(builtin):
    plain = _lch(builtin.palette.make_palette("teal", 3, seed=1)[0]["colors"][0]["hex"])
    pale = _lch(builtin.palette.make_palette("pale teal", 3, seed=1)[0]["colors"][0]["hex"])
    dark = _lch(builtin.palette.make_palette("dark teal", 3, seed=1)[0]["colors"][0]["hex"])
    assert dark["lightness"] < plain["lightness"] < pale["lightness"]
    assert _hue_distance(pale["hue"], plain["hue"]) < 10


@pytest.mark.parametrize(("prompt", "low", "high"), [
    ("calm ocean", 180, 270), ("cold winter morning", 200, 280), ("forest", 90, 160)])
def test_mood_words_give_their_colour_families(builtin, prompt, low, high):
    data, record = builtin.palette.make_palette(prompt, 3, seed=2)
    primary = _lch(data["colors"][0]["hex"])
    assert low <= primary["hue"] <= high
    assert record["template"]


def test_warm_moods_are_warmer_than_cold_ones(builtin):
    def warmth(prompt):
        data, _ = builtin.palette.make_palette(prompt, 5, seed=3)
        labs = [Color(c["hex"]).convert("oklab") for c in data["colors"]]
        return sum(lab["b"] for lab in labs) / len(labs)  # yellow-blue axis
    assert warmth("a warm cozy room") > warmth("a cold arctic room") + 0.05


def test_neon_is_more_colourful_than_minimal(builtin):
    def chroma(prompt):
        data, _ = builtin.palette.make_palette(prompt, 5, seed=3)
        return sum(_lch(c["hex"])["chroma"] for c in data["colors"]) / 5
    assert chroma("cyberpunk neon") > 2 * chroma("minimal scandinavian")


def test_material_words_give_the_materials_colours(builtin):
    data, record = builtin.palette.make_palette("brick", 5, seed=1)
    assert {c["hex"] for c in data["colors"]} >= set(builtin.texture.recipes()["brick"]["colors"].values())
    assert record["template"] == ["brick"]


def test_a_colour_word_tints_the_material_as_its_texture_does(builtin):
    """'red brick' is brick red, not #ff0000: the scheme matches the texture the prompt makes."""
    data, _ = builtin.palette.make_palette("weathered red brick wall", 5, seed=1)
    hexes = [c["hex"] for c in data["colors"]]
    brick = builtin.texture.recipes()["brick"]
    tinted = builtin.texture.recipe_colors(brick, "weathered red brick wall")
    assert hexes[0] == tinted["brick"] != brick["colors"]["brick"]
    assert "#ff0000" not in hexes
    assert _lch(hexes[0])["chroma"] <= brick["max_chroma"] + 1e-3
    assert _hue_distance(_lch(hexes[0])["hue"], 29.2) < 20  # still red
    # A second colour word is the artist's own colour and stays as named.
    with_gold, _ = builtin.palette.make_palette("red brick and gold", 5, seed=1)
    assert "#ffd700" in [c["hex"] for c in with_gold["colors"]]


def test_the_seed_varies_the_scheme_and_repeats_it(builtin):
    first = builtin.palette.make_palette("vibrant playful", 4, seed=10)[0]
    assert builtin.palette.make_palette("vibrant playful", 4, seed=10)[0] == first
    others = {json.dumps(builtin.palette.make_palette("vibrant playful", 4, seed=s)[0]) for s in range(8)}
    assert len(others) > 1


def test_no_seed_picks_one_and_records_it(builtin):
    data, record = builtin.palette.make_palette("sunset", 5)
    assert builtin.palette.make_palette("sunset", 5, record["seed"])[0] == data


@pytest.mark.parametrize("count", [0, 2, 13])
def test_a_count_out_of_range_says_the_range(builtin, count):
    with pytest.raises(ValueError, match="3 to 12"):
        builtin.palette.make_palette("red", count, seed=1)


@pytest.mark.parametrize("prompt", ["", "   ", "something nice", "12345"])
def test_a_prompt_with_nothing_known_says_what_to_add(builtin, prompt):
    with pytest.raises(ValueError, match="names no colour, mood or material.*for example"):
        builtin.palette.make_palette(prompt, 5, seed=1)


def test_every_mood_colour_is_in_the_colour_tables(builtin):
    table = builtin.words.named_colors()
    for mood, spec in builtin.palette.moods().items():
        assert spec["harmony"] in builtin.palette.harmony.HARMONY_RULES, mood
        for name in spec["colors"]:
            assert name.replace(" ", "") in table, (mood, name)


@pytest.mark.parametrize("mood", ["calm", "cold", "neon", "luxury", "spooky", "minimal"])
def test_every_mood_word_gives_a_palette_of_its_family(builtin, mood):
    spec = builtin.palette.moods()[mood]
    first = builtin.words.named_colors()[spec["colors"][0].replace(" ", "")]
    for word in spec["words"]:
        data, record = builtin.palette.make_palette(f"a {word} scene", 5, seed=1)
        assert record["template"][0] == mood, word
        assert data["colors"][0]["hex"] == first


def test_every_named_mood_gets_into_a_short_scheme(builtin):
    data, record = builtin.palette.make_palette("calm ocean", 3, seed=1)
    table = builtin.words.named_colors()
    firsts = [table[builtin.palette.moods()[m]["colors"][0].replace(" ", "")] for m in ("calm", "ocean")]
    assert record["template"] == ["calm", "ocean"]
    assert [c["hex"] for c in data["colors"][:2]] == firsts
