"""Scene ideas that come from someone else: a tampered .blend and hostile model answers are
refused or cleaned before anything is stored or built, and nothing half-made stays."""

import json
import math
import re

import panel_recorder
import pytest
from scene_state import scene_state

TITLE = "Reading nook at dusk"  # the title of the hand-written idea (reading_nook.json)


def _tamper(stored, document_text):
    stored.atelier.ideas[0].document = document_text


TAMPERED = [
    ("a 2 MB document", lambda nook: json.dumps(dict(nook, objects=nook["objects"][:1] * 20_000)),
     "at most 1000000 are read"),
    ("code instead of data", lambda nook: "__import__('os').system('echo pwned')", "not valid JSON"),
    ("an unknown primitive", lambda nook: json.dumps(nook).replace('"monkey"', '"script"'),
     "objects[6].primitive must be one of"),
    # Whole numbers no double holds: read as infinity, never an OverflowError or a refusal that
    # talks about the interpreter's digit limit.
    ("a 400-digit number", lambda nook: json.dumps(nook).replace('"energy": 3.5', '"energy": 1' + "0" * 400),
     "lights[0].energy must be a finite number"),
    ("a 5000-digit number", lambda nook: json.dumps(nook).replace('"lens": 35', '"lens": ' + "9" * 5000),
     "camera.lens must be a finite number"),
]


@pytest.mark.parametrize("what, document, says", TAMPERED, ids=[case[0] for case in TAMPERED])
def test_a_tampered_idea_in_the_file_is_refused_and_nothing_changes(addon, bpy_module, stored, nook,
                                                                      what, document, says):
    bpy = bpy_module
    _tamper(stored, document(nook))
    before = scene_state(bpy)
    with pytest.raises(RuntimeError, match="idea 0 .* is not a valid scene idea and was not built") as caught:
        bpy.ops.atelier.apply_scene_idea(index=0)
    assert says in str(caught.value)
    assert scene_state(bpy) == before


CODE = "__import__('pathlib').Path('pwned').touch()"


def _at(path, value):
    def mutate(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


# The hostile answers the issue names. (what, mutation, refused with (a pattern), or what the block-out
# gets instead: (kind of datablock, its name) or (object, attribute, value)). A NaN from a
# result arrives as a float, from a file as text that JSON does not allow.
HOSTILE = [
    ("python code in the title", _at(["title"], CODE), None, ("collection", CODE)),
    # Short ones: 10,000 whole objects would hit the size limit of a document first.
    ("10,000 objects", lambda doc: doc.update(objects=[{"name": "Box", "primitive": "cube"}] * 10_000),
     "objects has 10000 items; at most 64 are allowed", None),
    ("a NaN coordinate", _at(["objects", 2, "location", 0], math.nan),
     r"objects\[2\]\.location\[0\] must be a finite number|NaN is not a number JSON allows", None),
    ("a 1e308 coordinate", _at(["objects", 2, "location", 0], 1e308), None, ("Side table", "location", 100)),
    ("path separators in a name", _at(["objects", 1, "name"], "../..\\etc/passwd"), None,
     ("object", "..-..-etc-passwd")),
    ("path separators and a line break in the title", _at(["title"], "Nook/../x\n"), None,
     ("collection", "Nook-..-x")),
    ("control characters in a name", _at(["objects", 2, "name"], "Table\x00\x1b[2J\u202e"), None,
     ("object", "Table[2J")),
    # No double holds it: as a number (a result) it is too large, as text (a file) infinity.
    ("a 400-digit energy", _at(["lights", 0, "energy"], 10**400),
     r"lights\[0\]\.energy (is a whole number too large to use|must be a finite number)", None),
]


def _check_built(bpy, expected):
    if expected[0] == "collection":
        assert expected[1] in bpy.data.collections
        return
    collection = bpy.data.collections[TITLE]
    if expected[0] == "object":
        assert expected[1] in collection.objects
    else:
        name, attribute, value = expected
        assert getattr(collection.objects[name], attribute).x == value


@pytest.mark.parametrize("what, mutate, refused, built", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_a_hostile_model_answer_is_refused_or_cleaned_before_it_is_stored(addon, bpy_module, stored, nook,
                                                                           tmp_path, monkeypatch,
                                                                           what, mutate, refused, built):
    monkeypatch.chdir(tmp_path)
    mutate(nook)
    before = scene_state(bpy_module)
    if refused:
        with pytest.raises(addon.client.session.ApplyError,
                       match=f"idea 1 is not a valid scene idea: .*({refused})"):
            addon.apply.scene_idea.store_ideas(stored, [nook], prompt="x", engine="m")
        assert scene_state(bpy_module) == before
        return
    addon.apply.scene_idea.store_ideas(stored, [nook], prompt="x", engine="m")
    assert bpy_module.ops.atelier.apply_scene_idea(index=0) == {"FINISHED"}
    _check_built(bpy_module, built)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("what, mutate, refused, built", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_a_hostile_idea_in_a_file_is_refused_or_cleaned_before_it_is_built(addon, bpy_module, stored, nook,
                                                                           tmp_path, monkeypatch, capfd,
                                                                           what, mutate, refused, built):
    monkeypatch.chdir(tmp_path)
    mutate(nook)
    _tamper(stored, json.dumps(nook))
    before = scene_state(bpy_module)
    if refused:
        with pytest.raises(RuntimeError, match=f"idea 0 .* is not a valid scene idea and was not built: "
                                               f".*({refused})"):
            bpy_module.ops.atelier.apply_scene_idea(index=0)
        assert scene_state(bpy_module) == before
        return
    assert bpy_module.ops.atelier.apply_scene_idea(index=0) == {"FINISHED"}
    _check_built(bpy_module, built)
    assert not (tmp_path / "pwned").exists()
    report = capfd.readouterr().out
    assert ("cleaned: " in report) == (what != "python code in the title"), report


# --------------------------------------------------------------------------- bounded parsing

DEEP = "[" * 100_000 + "]" * 100_000


def _deep_notes(text: str) -> str:
    """``text``, a JSON idea or ideas document, with a first note nested 100,000 levels deep."""
    return text.replace('"notes": [', '"notes": [' + DEEP + ",", 1)


@pytest.mark.parametrize("damage, says", [
    (lambda text: text.replace('"lens": 35', '"lens": ' + "9" * 5000),
     "inf is greater than the maximum of 300"),  # read as infinity: no double holds it
    (_deep_notes, "the JSON text is nested too deeply"),
], ids=["a 5000-digit number", "nesting 100,000 levels deep"])
def test_a_model_answer_too_large_or_deep_to_parse_is_retried_then_refused(make_job, tiny_text_model,
                                                                          canned_answers, nook,
                                                                          damage, says):
    from backend.tasks import ideas
    from core.errors import TaskError

    answer = damage(json.dumps({"ideas": [nook]}))
    asked = canned_answers(answer, answer)
    request, job = make_job(prompt="a reading nook", count=1, model=str(tiny_text_model))
    with pytest.raises(TaskError) as failure:
        ideas.run(request, job)
    assert failure.value.code == "invalid_output" and says in failure.value.message
    assert len(asked) == 2 and says in asked[1][-1]["content"]  # the model was told why


def test_a_provenance_record_nested_100000_levels_deep_is_read_as_unknown(addon, bpy_module, stored):
    stored.atelier.ideas[0].provenance = '{"engine": ' + DEEP + "}"
    assert bpy_module.ops.atelier.apply_scene_idea(index=0) == {"FINISHED"}
    assert "Suggested by hand for 'a reading nook'" in bpy_module.data.texts[f"{TITLE} notes"].as_string()
    stored.atelier.ideas[0].show_details = True
    shown = panel_recorder.labels(panel_recorder.draw(bpy_module, addon.panels.ideas.ATELIER_PT_ideas))
    assert "From hand: 'a reading nook'" in shown


# --------------------------------------------------------------------------- the panel

# Stored documents of the wrong shape: (what, damage, the problem named, a label still drawn).
DAMAGED = [
    ("objects is a number", lambda nook: json.dumps(dict(nook, objects=5)),
     "objects must be an array, got 5", "0 objects, 4 lights, 35 mm camera"),
    ("camera is a list", lambda nook: json.dumps(dict(nook, camera=[1, 2])),
     "camera must be an object, got [1, 2]", "9 objects, 4 lights, ? mm camera"),
    ("notes is a number", lambda nook: json.dumps(dict(nook, notes=7)),
     "notes must be an array, got 7", "  Armchair (cube)"),
    ("objects that are not objects", lambda nook: json.dumps(dict(nook, objects=[7, None])),
     "objects[0] must be an object, got 7", "  null (null)"),
    ("the idea is a list", lambda nook: json.dumps([nook]), "the document must be an object",
     "0 objects, 0 lights, ? mm camera"),
]
UNREADABLE = [
    ("nesting 100,000 levels deep", lambda nook: _deep_notes(json.dumps(nook)),
     "the JSON text is nested too deeply"),
    ("nesting 20 levels deep", lambda nook: json.dumps(dict(nook, notes=[json.loads("[" * 20 + "]" * 20)])),
     "is nested too deeply (more than 16 levels"),
    ("a 2 MB document", TAMPERED[0][1], "at most 1000000 are read"),
]


def _panel_text(addon, bpy_module, stored, document):
    stored.atelier.ideas[0].document = document
    stored.atelier.ideas[0].show_details = True
    shown = panel_recorder.labels(panel_recorder.draw(bpy_module, addon.panels.ideas.ATELIER_PT_ideas))
    assert TITLE in shown and any(label.startswith("A deep armchair") for label in shown)
    return shown


@pytest.mark.parametrize("what, damage, problem, still_shown", DAMAGED, ids=[case[0] for case in DAMAGED])
def test_the_panel_shows_what_it_can_of_a_damaged_idea_and_says_so(addon, bpy_module, stored, nook,
                                                                   what, damage, problem, still_shown):
    shown = _panel_text(addon, bpy_module, stored, damage(nook))
    assert "This idea's document is damaged; Apply will refuse it" in shown
    assert problem in " ".join(shown)
    assert still_shown in shown
    with pytest.raises(RuntimeError, match=re.escape(problem)):  # and Apply does refuse it
        bpy_module.ops.atelier.apply_scene_idea(index=0)


@pytest.mark.parametrize("what, document, problem", UNREADABLE, ids=[case[0] for case in UNREADABLE])
def test_the_panel_says_an_unreadable_idea_cannot_be_read_and_why(addon, bpy_module, stored, nook,
                                                                  what, document, problem):
    shown = _panel_text(addon, bpy_module, stored, document(nook))
    assert "This idea's document cannot be read" in shown and problem in " ".join(shown)
