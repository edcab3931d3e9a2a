"""The style library (``core.styles``): built-in styles, expanding prompts, and ``styles.json``
checked on load with errors that name the file, the entry and the fix."""

import json
import re
from pathlib import Path

import pytest

from core import limits, styles
from core import schema as json_schema
from core.styles import BUILTIN_STYLES, StyleError, expand, find, load_styles


def write(tmp_path, document) -> Path:
    """``document`` (JSON text, or a value to write as JSON) as ``styles.json`` in ``tmp_path``."""
    path = tmp_path / "styles.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- built-in styles


def test_the_library_has_the_promised_styles():
    assert {"scanned-photo", "hand-painted", "stylised-game-art", "evenly-lit-albedo",
            "watercolour"} <= set(BUILTIN_STYLES)


@pytest.mark.parametrize("name", sorted(BUILTIN_STYLES))
def test_every_builtin_style_meets_the_rules_for_a_users_style(name):
    style = BUILTIN_STYLES[name]
    entry = {"label": style.label, "description": style.description, "prompt": style.prompt,
             "negative_prompt": style.negative_prompt, "defaults": dict(style.defaults)}
    assert styles.document_problems({name: entry}) == []
    assert style.name == name and style.label and style.description
    assert style.prompt.startswith(styles.PLACEHOLDER)  # the artist's words weigh most


def test_evenly_lit_albedo_asks_for_flat_light_and_tiles():
    style = BUILTIN_STYLES["evenly-lit-albedo"]
    prompt, negative = expand(style, "oak planks", "")
    assert "flat even lighting" in prompt and "no shadows" in prompt and "no highlights" in prompt
    assert {"shadows", "specular highlights"} <= {word.strip() for word in negative.split(",")}
    assert dict(style.defaults) == {"seamless": "xy"}


def test_builtin_styles_cannot_be_changed():
    with pytest.raises(TypeError):
        BUILTIN_STYLES["watercolour"].defaults["strength"] = 1.0


# --------------------------------------------------------------------------- expanding


def test_expand_puts_the_prompt_in_the_template_and_adds_the_negative_text():
    style = styles.Style("t", "T", "", "{prompt}, oil painting", "photo")
    assert expand(style, "  red barn ", " blurry ") == ("red barn, oil painting", "blurry, photo")
    assert expand(style, "red barn", "") == ("red barn, oil painting", "photo")


def test_braces_in_the_artists_text_stay_as_written():
    """str.replace in one pass: no format fields, and a '{prompt}' the artist typed is not expanded."""
    style = styles.Style("t", "T", "", "{prompt} in {prompt} light", "")
    text = "{0} {prompt} {negative_prompt} {__class__}"
    assert expand(style, text, "{x}") == (f"{text} in {text} light", "{x}")


def test_an_empty_prompt_leaves_the_style_words_without_a_dangling_comma():
    prompt, _ = expand(BUILTIN_STYLES["hand-painted"], "", "")
    assert prompt.startswith("hand-painted texture") and not prompt.endswith(",")


def test_an_expanded_prompt_over_the_limit_says_how_much_to_cut():
    style = BUILTIN_STYLES["scanned-photo"]
    words = len(style.prompt) - len(styles.PLACEHOLDER)
    room = limits.MAX_PROMPT_CHARS - words
    assert len(expand(style, "a" * room, "")[0]) == limits.MAX_PROMPT_CHARS  # just fits
    with pytest.raises(StyleError, match=rf"style 'scanned-photo' has {limits.MAX_PROMPT_CHARS + 1} "
                                         rf"characters.*shorten your prompt to {room} characters"):
        expand(style, "a" * (room + 1), "")
    with pytest.raises(StyleError, match="negative prompt with style 'scanned-photo'.*shorten your "
                                         "negative prompt"):
        expand(style, "stone", "n" * limits.MAX_PROMPT_CHARS)


# --------------------------------------------------------------------------- names


def test_names_are_found_whatever_the_case_spaces_or_underscores():
    for typed in ("hand-painted", "Hand Painted", " HAND_PAINTED "):
        assert find(BUILTIN_STYLES, typed) is BUILTIN_STYLES["hand-painted"]
    assert find(BUILTIN_STYLES, "  ") is None


def test_an_unknown_style_names_the_known_ones_and_the_file():
    with pytest.raises(StyleError, match=r"unknown style 'oil paint'; use one of evenly-lit-albedo, "
                                         r"hand-painted, .*or add it to styles.json"):
        find(BUILTIN_STYLES, "oil paint")


# --------------------------------------------------------------------------- the user's file


def test_without_a_file_the_builtin_styles_are_the_library(tmp_path):
    assert load_styles(None) == BUILTIN_STYLES
    assert load_styles(tmp_path / "styles.json") == BUILTIN_STYLES
    assert load_styles(None) is not BUILTIN_STYLES  # a copy: callers may add to it


def test_a_user_style_is_added_with_its_defaults_as_the_fields_want_them(tmp_path):
    path = write(tmp_path, {"rusty-sci-fi": {"prompt": "{prompt}, rusty sci-fi panels",
                                             "defaults": {"steps": 30.0, "guidance": 5, "seamless": "x"}}})
    library = load_styles(path)
    style = library["rusty-sci-fi"]
    assert (style.label, style.description, style.negative_prompt) == ("Rusty Sci Fi", "", "")
    assert dict(style.defaults) == {"steps": 30, "guidance": 5.0, "seamless": "x"}
    assert type(style.defaults["steps"]) is int and type(style.defaults["guidance"]) is float
    assert set(library) == set(BUILTIN_STYLES) | {"rusty-sci-fi"}


def test_a_user_style_replaces_the_builtin_of_the_same_name(tmp_path):
    path = write(tmp_path, {"watercolour": {"label": "My Watercolour", "prompt": "{prompt}, ink wash"}})
    style = load_styles(path)["watercolour"]
    assert (style.label, style.prompt, dict(style.defaults)) == ("My Watercolour", "{prompt}, ink wash", {})
    assert BUILTIN_STYLES["watercolour"].prompt != style.prompt  # the built-in one is untouched


GOOD = {"prompt": "{prompt}, chalk drawing"}
BAD_FILES = {
    "not JSON": ('{"chalk": {"prompt": "{prompt}"', r"not valid JSON: .*line 1"),
    "NaN": ('{"chalk": {"prompt": "{prompt}", "defaults": {"guidance": NaN}}}', r"NaN is not a number"),
    "a list": ([GOOD], r"must hold one JSON object mapping style names to styles, e.g. \{"),
    "an entry that is text": ({"chalk": "{prompt}, chalk"}, r"chalk must be an object"),
    "prompt missing": ({"chalk": {"label": "Chalk"}}, r"chalk is missing 'prompt'"),
    "prompt not text": ({"chalk": {"prompt": 3}}, r"chalk.prompt must be a string, got 3"),
    "label not text": ({"chalk": {**GOOD, "label": ["Chalk"]}}, r"chalk.label must be a string"),
    "defaults a list": ({"chalk": {**GOOD, "defaults": [30]}}, r"chalk.defaults must be an object"),
    "unknown field": ({"chalk": {**GOOD, "negative": "x"}},
                      r"chalk has unknown field\(s\) 'negative'; allowed: label, description, prompt"),
    "unknown default": ({"chalk": {**GOOD, "defaults": {"denoise": 0.4}}},
                        r"chalk.defaults has unknown field\(s\) 'denoise'; allowed: steps, guidance, "
                        r"strength, seamless"),
    "steps zero": ({"chalk": {**GOOD, "defaults": {"steps": 0}}},
                   r"chalk.defaults.steps is 0; the minimum is 1"),
    "steps a fraction": ({"chalk": {**GOOD, "defaults": {"steps": 2.5}}},
                         r"chalk.defaults.steps must be a whole number, got 2.5"),
    "steps true": ({"chalk": {**GOOD, "defaults": {"steps": True}}},
                   r"chalk.defaults.steps must be a whole number"),
    "steps too many": ({"chalk": {**GOOD, "defaults": {"steps": 151}}}, r"the maximum is 150"),
    "guidance negative": ({"chalk": {**GOOD, "defaults": {"guidance": -1}}},
                          r"chalk.defaults.guidance is -1; the minimum is 0"),
    "strength zero": ({"chalk": {**GOOD, "defaults": {"strength": 0}}}, r"chalk.defaults.strength is 0"),
    "strength over one": ({"chalk": {**GOOD, "defaults": {"strength": 1.5}}}, r"the maximum is 1"),
    "seamless spelt as in the panel": ({"chalk": {**GOOD, "defaults": {"seamless": "XY"}}},
                                       r'chalk.defaults.seamless must be one of "off", "x", "y", "xy"'),
    "template without {prompt}": ({"chalk": {"prompt": "chalk drawing of prompt"}},
                                  r"chalk.prompt has no \{prompt\}; put \{prompt\} where the artist's "
                                  r"prompt goes, e.g. \"\{prompt\}, oil painting\""),
    "template with {Prompt}": ({"chalk": {"prompt": "{Prompt}, chalk"}}, r"chalk.prompt has no \{prompt\}"),
    "name with capitals and a space": ({"Chalk Art": GOOD},
                                       r'style name "Chalk Art" is not allowed; use lower-case letters, '
                                       r"digits and hyphens.*\(e.g. 'chalk-art'\)"),
    "empty name": ({"": GOOD}, r'style name "" is not allowed'),
    "name too long": ({"a" * 41: GOOD}, r"at most 40 characters"),
    "template too long": ({"chalk": {"prompt": "{prompt}" + "x" * 600}},
                          r"chalk.prompt has 608 characters; at most 600 are allowed"),
    "description too long": ({"chalk": {**GOOD, "description": "d" * 201}}, r"chalk.description has 201"),
    "too many styles": ({f"s{i}": GOOD for i in range(101)}, r"it defines 101 styles; at most 100"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_broken_file_is_refused_naming_the_file_the_entry_and_the_fix(tmp_path, case):
    document, problem = BAD_FILES[case]
    path = write(tmp_path, document)
    with pytest.raises(StyleError) as error:
        load_styles(path)
    message = str(error.value)
    assert message.startswith(f"the styles file {path} cannot be used: ")
    assert re.search(problem, message), message
    assert message.endswith("Fix it, or rename it to use the built-in styles only")


def test_every_problem_of_a_file_is_told_at_once(tmp_path):
    path = write(tmp_path, {"chalk": {"prompt": 3}, "ink": {"prompt": "ink", "defaults": {"steps": 0}}})
    with pytest.raises(StyleError) as error:
        load_styles(path)
    for problem in ("chalk.prompt must be a string", "ink.defaults.steps is 0", "ink.prompt has no {prompt}"):
        assert problem in str(error.value)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = write(tmp_path, {"chalk": {**GOOD, "description": "x" * styles.MAX_FILE_BYTES}})
    with pytest.raises(StyleError, match=rf"cannot be used: it is {path.stat().st_size} bytes; a styles "
                                         rf"file may have at most {styles.MAX_FILE_BYTES}"):
        load_styles(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "styles.json"
    path.write_bytes('{"chalk": {"prompt": "{prompt}, caf\u00e9"}}'.encode("latin-1"))
    with pytest.raises(StyleError, match="it is not UTF-8 text; save it as UTF-8"):
        load_styles(path)


def test_a_folder_in_place_of_the_file_is_refused(tmp_path):
    (tmp_path / "styles.json").mkdir()
    with pytest.raises(StyleError, match=r"cannot read the styles file .*styles.json: .*remove it"):
        load_styles(tmp_path / "styles.json")


def test_a_deeply_nested_file_is_refused_without_a_recursion_error(tmp_path):
    path = write(tmp_path, '{"chalk": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(StyleError, match="nested too deeply"):
        load_styles(path)


def test_the_entry_schema_uses_only_what_the_validator_checks():
    json_schema.check_supported(styles.entry_schema())
