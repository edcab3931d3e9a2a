"""The scene-idea schema and ``core.ideas``: validation (cross-checked with the reference
``jsonschema``), sanitising of hostile documents, semantic checks and request checks."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from backend.structured import token_budget
from backend.tasks.ideas import generation_schema
from core import ideas as idea_rules
from core import schema as json_schema

SCHEMA = idea_rules.load_schema()
REFERENCE = jsonschema.Draft202012Validator(SCHEMA)


def reference_valid(document) -> bool:
    return REFERENCE.is_valid(document)


# --------------------------------------------------------------------------- the schema itself


def test_schema_is_valid_draft_2020_12_and_versioned():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["properties"]["schema_version"]["const"] == idea_rules.SCHEMA_VERSION
    assert SCHEMA["$id"].endswith(":1")


def _walk(node, path="#"):
    yield path, node
    for key in ("properties", "$defs"):
        for name, sub in node.get(key, {}).items():
            yield from _walk(sub, f"{path}/{key}/{name}")
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], f"{path}/items")


def test_every_string_array_and_number_is_bounded():
    for path, node in _walk(SCHEMA):
        kind = node.get("type")
        if kind == "string":
            assert "maxLength" in node and "pattern" in node, path
            bound = re.search(r"\{(\d+),(\d+)\}\$$|\{(\d+)\}\$$", node["pattern"])
            # The pattern (which the grammar follows) allows exactly maxLength characters.
            assert int(bound.group(2) or 1 + int(bound.group(3))) == node["maxLength"], path
        elif kind == "array":
            assert "maxItems" in node, path
        elif kind == "number":
            assert "minimum" in node and "maximum" in node, path
    assert SCHEMA["properties"]["objects"]["maxItems"] == 64


def test_the_grammar_gets_a_finite_token_budget_for_the_largest_request():
    assert token_budget(generation_schema(idea_rules.MAX_IDEAS)) < 10**6


def test_the_document_schema_holds_exactly_count_ideas(nook):
    assert idea_rules.schema_problems({"ideas": [nook]}, idea_rules.ideas_document_schema(1)) == []
    problems = idea_rules.schema_problems({"ideas": [nook, nook]}, idea_rules.ideas_document_schema(1))
    assert problems == ["ideas has 2 items; at most 1 are allowed"]
    for count in (0, 6, True, 2.0):
        with pytest.raises(idea_rules.IdeaError, match="count must be a whole number from 1 to 5"):
            idea_rules.ideas_document_schema(count)


def test_a_schema_with_keywords_the_validator_lacks_is_refused():
    with pytest.raises(json_schema.SchemaError, match="oneOf"):
        idea_rules.schema_problems(1, {"oneOf": [{"type": "number"}]})


# --------------------------------------------------------------------------- validation


def test_the_hand_written_idea_is_valid_for_both_validators(nook):
    assert idea_rules.schema_problems(nook) == []
    assert reference_valid(nook)
    checked, repairs = idea_rules.check_idea(nook)
    assert checked == nook and repairs == []


def _set(path, value):
    def mutate(doc):
        *parents, last = path
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value
    return mutate


def _many_objects(doc):
    doc["objects"] = [dict(doc["objects"][1], location=[i % 100, 0, 0]) for i in range(10_000)]


# (what, mutation, the problem sentence says, sanitising makes it valid)
HOSTILE = [
    ("10,000 objects", _many_objects, "objects has 10000 items; at most 64 are allowed", False),
    ("1e308 coordinate", _set(["objects", 1, "location", 0], 1e308), "the maximum is 100", True),
    ("-1e308 scale", _set(["objects", 1, "scale", 2], -1e308), "the minimum is 0.01", True),
    ("path separators in a name", _set(["objects", 1, "name"], "../../etc/passwd"),
     "objects[1].name \"../../etc/passwd\" holds U+002F", True),
    ("backslash in a title", _set(["title"], r"C:\Windows\System32"), "holds U+003A", True),
    ("control characters in a name", _set(["objects", 2, "name"], "Table\x00\x1b[2J"),
     "holds U+0000", True),
    ("direction override in a note", _set(["notes", 0], "safe\u202etxt.exe"), "holds U+202E", True),
    ("line break in the pitch", _set(["pitch"], "one\ntwo"), "pitch \"one\\ntwo\" holds U+000A", True),
    ("a 5,000 character pitch", _set(["pitch"], "word " * 1000), "pitch has 5000 characters", True),
    ("an unknown field", _set(["script"], "import os"), "has unknown field(s) 'script'", False),
    ("a primitive not in the list", _set(["objects", 0, "primitive"], "python_script"),
     "objects[0].primitive must be one of", False),
    ("a colour that is not hex", _set(["world", "color"], "red"), "world.color \"red\" must match", False),
    ("true as a number", _set(["objects", 0, "material", "roughness"], True),
     "objects[0].material.roughness must be a number", False),
    ("text as a location", _set(["camera", "location"], "behind you"),
     "camera.location must be an array", False),
    ("two coordinates", _set(["camera", "target"], [0, 0]), "camera.target has 2 items; at least 3", False),
    ("another schema version", _set(["schema_version"], "atelier.scene_idea/9"),
     "schema_version must be", False),
    ("a missing camera", lambda doc: doc.pop("camera"), "the document is missing 'camera'", False),
    ("an empty title", _set(["title"], ""), "title must have at least 1 character", False),
]


@pytest.mark.parametrize("what, mutate, says, repairable", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_documents_are_rejected_or_sanitised(nook, what, mutate, says, repairable):
    mutate(nook)
    problems = idea_rules.schema_problems(nook)
    assert any(says in problem for problem in problems), problems
    assert not reference_valid(nook)  # the reference validator agrees
    if repairable:
        checked, repairs = idea_rules.check_idea(nook)
        assert repairs and idea_rules.schema_problems(checked) == [] and reference_valid(checked)
    else:
        with pytest.raises(idea_rules.IdeaError) as caught:
            idea_rules.check_idea(nook)
        assert any(says in problem for problem in caught.value.problems)


def test_sanitising_says_what_it_changed(nook):
    nook["objects"][1]["name"] = "../../etc/passwd"
    nook["objects"][2]["name"] = "Table\x00\x1b[2J\u202e"
    nook["objects"][1]["location"][0] = 1e308
    nook["pitch"] = "A room.\nWith a view." + " and more" * 100
    checked, repairs = idea_rules.check_idea(nook)
    assert checked["objects"][1]["name"] == "..-..-etc-passwd"
    assert checked["objects"][2]["name"] == "Table[2J"
    assert checked["objects"][1]["location"][0] == 100
    assert checked["pitch"].startswith("A room. With a view.") and len(checked["pitch"]) <= 600
    assert 'objects[1].name was cleaned to "..-..-etc-passwd"' in repairs
    assert "objects[1].location[0] 1e+308 was clamped to 100" in repairs
    assert nook["objects"][1]["name"] == "../../etc/passwd"  # the input itself is left alone


def test_python_code_in_a_title_is_only_text(nook):
    nook["title"] = "__import__('os').system('echo pwned')"
    checked, repairs = idea_rules.check_idea(nook)
    assert checked["title"] == nook["title"] and repairs == []


def _nested_list(depth: int) -> list:
    outer = inner = []
    for _ in range(depth - 1):
        inner.append([])
        inner = inner[0]
    return outer


@pytest.mark.parametrize("check", [
    idea_rules.check_idea,
    lambda value: idea_rules.check_idea(json.dumps(value)),  # stored as text, as a .blend holds it
    lambda value: idea_rules.check_ideas_document({"ideas": [value]}, 1),
], ids=["object", "text", "document"])
def test_a_deeply_nested_field_is_refused_not_a_crash(nook, check):
    """A hostile stored idea 500 levels deep: copying it would exhaust Python's recursion limit,
    so it is an ``IdeaError`` Blender can report, naming the field."""
    nook["title"] = _nested_list(500)
    with pytest.raises(idea_rules.IdeaError, match=r"title\[0\]\[0\].* is nested too deeply"):
        check(nook)
    nook["title"] = "A reading nook"
    nook["objects"][0]["material"] = {"a": _nested_list(json_schema.MAX_NESTING)}
    with pytest.raises(idea_rules.IdeaError, match="is nested too deeply"):
        check(nook)


def test_nesting_up_to_the_limit_reaches_the_schema_check(nook):
    nook["notes"] = [_nested_list(json_schema.MAX_NESTING - 2)]  # the idea and its notes are 2 levels
    with pytest.raises(idea_rules.IdeaError, match=r"notes\[0\] must be a string"):
        idea_rules.check_idea(nook)


def test_not_a_number_is_refused_where_the_reference_validator_lets_it_pass(nook):
    # JSON has no NaN, but Python's json module reads it; NaN compares false with every bound,
    # so range checks alone would let it through.
    nook["objects"][0]["location"][2] = math.nan
    assert reference_valid(nook)
    assert idea_rules.schema_problems(nook) == ["objects[0].location[2] must be a finite number, got nan"]
    with pytest.raises(idea_rules.IdeaError, match="finite"):
        idea_rules.check_idea(nook)


def test_a_trailing_newline_does_not_slip_past_the_pattern(nook):
    # Python's "$" matches before a final newline; JSON Schema's (ECMA-262) does not.
    nook["objects"][0]["name"] = "Floor\n"
    assert reference_valid(nook)
    assert "holds U+000A" in idea_rules.schema_problems(nook)[0]


@pytest.mark.parametrize("text, says", [
    ('{"x": NaN}', "NaN is not a number JSON allows"),
    ('{"x": Infinity}', "Infinity is not a number JSON allows"),
    ("[" * 100_000, "nested too deeply"),
    ('{"title": "unterminated', "not valid JSON"),
    (" " * (json_schema.MAX_JSON_CHARS + 1), "at most 1000000 are read"),
])
def test_parsing_refuses_what_json_should_not_hold(text, says):
    with pytest.raises(idea_rules.IdeaError, match=re.escape(says)):
        idea_rules.parse_json(text)


def test_an_overflowing_number_in_text_is_refused(nook):
    text = json.dumps(nook).replace('"lens": 35', '"lens": 1e999')
    with pytest.raises(idea_rules.IdeaError, match="camera.lens must be a finite number"):
        idea_rules.check_idea(text)


# --------------------------------------------------------------------------- semantics


def test_the_hand_written_idea_passes_the_semantic_checks(nook):
    assert idea_rules.semantic_problems(nook) == []


def test_objects_in_one_lump_are_reported(nook):
    nook["objects"][5]["location"] = nook["objects"][1]["location"]
    nook["objects"][5]["scale"] = [0.9, 0.9, 0.9]  # the chair is turned 15 degrees: a wider box
    problems = idea_rules.semantic_problems(nook)
    assert problems == ["objects 'Armchair' and 'Globe' take up mostly the same space "
                        "(67% of their boxes overlap); move them apart or resize them"]


def test_a_small_object_inside_a_large_one_is_fine(nook):
    # A book on a shelf: the boxes overlap, but the book is a small part of the union.
    nook["objects"][5].update(location=[-0.6, 0.6, 0.45], scale=[0.2, 0.2, 0.2])
    assert idea_rules.semantic_problems(nook) == []


def test_a_camera_inside_an_object_is_reported(nook):
    nook["camera"]["location"] = [-0.6, 0.6, 0.5]
    problems = idea_rules.semantic_problems(nook)
    assert "the camera at (-0.6, 0.6, 0.5) is inside 'Armchair'; move it out" in problems


def test_a_camera_looking_away_from_the_layout_is_reported(nook):
    nook["camera"]["target"] = [0, -20, 1.6]
    (problem,) = idea_rules.semantic_problems(nook)
    assert problem.startswith(
        "the camera at (0, -5.5, 1.6) looking at (0, -20, 1.6) sees only 0 of 8 objects")
    assert "aim camera.target at the layout" in problem


def test_a_camera_aimed_at_itself_is_reported(nook):
    nook["camera"]["target"] = nook["camera"]["location"]
    assert idea_rules.semantic_problems(nook) == [
        "camera.target is where the camera stands; aim it at the objects"]


def test_a_sun_given_in_watts_is_reported(nook):
    nook["lights"][0]["energy"] = 1000
    (problem,) = idea_rules.semantic_problems(nook)
    assert problem.startswith("lights[0] is a sun with energy 1000; a sun's energy is irradiance in W/m2")


# --------------------------------------------------------------------------- requests


@pytest.mark.parametrize("prompt, count, says", [
    ("", 3, "the prompt is empty"),
    ("   \n", 3, "the prompt is empty"),
    ("x" * 1001, 3, "shorten it to 1000"),
    ("a nook", 0, "count must be a whole number from 1 to 5, got 0"),
    ("a nook", 6, "count must be a whole number from 1 to 5, got 6"),
])
def test_bad_requests_say_what_to_change(prompt, count, says):
    assert any(says in problem for problem in idea_rules.request_problems(prompt, count))


def test_a_good_request_has_no_problems():
    assert idea_rules.request_problems("a cosy reading nook at dusk", 3) == []


# --------------------------------------------------------------------------- Blender's view


CHECK_WITHOUT_PACKAGES = """
import json, sys
try:
    import jsonschema
except ModuleNotFoundError:
    pass
else:
    sys.exit("site-packages are reachable; the test proves nothing")
from core import ideas as idea_rules
checked, repairs = idea_rules.check_idea(sys.stdin.read())
try:
    idea_rules.check_idea(dict(checked, objects=[checked["objects"][0]] * 10_000))
except idea_rules.IdeaError as exc:
    refused = exc.problems
semantic = idea_rules.semantic_problems(checked)
print(json.dumps({"repairs": repairs, "semantic": semantic, "refused": refused}))
"""


def test_the_validator_needs_no_installed_package(nook):
    """Blender's Python imports ``core.ideas`` and ``core.schema``: they must run without
    jsonschema, rpds or any other installed (often compiled) package. ``-S`` leaves site-packages
    off the path."""
    nook["objects"][1]["name"] = "../../etc/passwd"
    done = subprocess.run([sys.executable, "-S", "-c", CHECK_WITHOUT_PACKAGES], input=json.dumps(nook),
                          cwd=Path(idea_rules.__file__).resolve().parents[1], capture_output=True, text=True,
                          timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "repairs": ['objects[1].name was cleaned to "..-..-etc-passwd"'], "semantic": [],
        "refused": ["objects has 10000 items; at most 64 are allowed"]}
