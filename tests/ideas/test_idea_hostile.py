"""Scene ideas that come from someone else: a tampered .blend and hostile model answers are
refused or cleaned before anything is stored or built, and nothing half-made stays."""

import json
import math

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
