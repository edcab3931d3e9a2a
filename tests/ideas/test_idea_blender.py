"""Scene ideas in real Blender: storing, building the block-out, units, undo, save/reload, and
bad or hostile input leaving the scene unchanged (no backend needed)."""

import json
import math
import sys
import textwrap

import panel_recorder
import pytest
from scene_state import scene_state

TITLE = "Reading nook at dusk"


def _linear(hex_color):
    import mathutils

    return mathutils.Color([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]).from_srgb_to_scene_linear()


def _close(a, b, tol=1e-4):
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def test_stored_ideas_keep_the_checked_document_and_display_copies(addon, clean_scene, nook):
    nook["objects"][1]["name"] = "Arm/chair"  # sanitised before it is stored
    repairs = addon.apply.scene_idea.store_ideas(clean_scene, [nook], prompt="a nook", engine="m")
    assert repairs == ['idea 1: objects[1].name was cleaned to "Arm-chair"']
    (item,) = clean_scene.atelier.ideas
    assert (item.title, item.pitch, item.mood) == (TITLE, nook["pitch"], nook["mood"])
    assert (item.prompt, item.engine) == ("a nook", "m")
    assert json.loads(item.document)["objects"][1]["name"] == "Arm-chair"


def test_building_makes_every_part_with_the_idea_values_and_units(addon, bpy_module, stored, nook):
    bpy = bpy_module
    assert bpy.ops.atelier.apply_scene_idea(index=0) == {"FINISHED"}
    scene = bpy.context.scene
    collection = bpy.data.collections[TITLE]
    assert collection.name in scene.collection.children
    assert len(collection.objects) == len(nook["objects"]) + len(nook["lights"]) + 1

    sizes = {"Floor": (6, 6, 0), "Armchair": (0.9, 0.9, 0.9), "Side table": (0.5, 0.5, 0.6),
             "Lamp shade": (0.35, 0.35, 0.3), "Brass ring": (0.4, 0.4, 0.1), "Globe": (0.5, 0.5, 0.5)}
    for name, size in sizes.items():
        assert _close(collection.objects[name].dimensions, size, 1e-3), name
    bust = collection.objects["Bust"]
    assert max(bust.dimensions) == pytest.approx(0.4, abs=1e-4)  # one metre across, scaled
    armchair = collection.objects["Armchair"]
    assert tuple(armchair.location) == pytest.approx((-0.6, 0.6, 0.45))
    assert armchair.rotation_euler.z == pytest.approx(math.radians(15))
    material = armchair.active_material
    principled = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    assert _close(principled.inputs["Base Color"].default_value[:3], _linear("#8a3b2a"))
    assert principled.inputs["Roughness"].default_value == pytest.approx(0.9)
    ring = collection.objects["Brass ring"].active_material
    assert next(n for n in ring.node_tree.nodes if n.type == "BSDF_PRINCIPLED").inputs["Metallic"] \
        .default_value == pytest.approx(1.0)

    sign = collection.objects["Sign"]
    assert sign.type == "FONT" and sign.data.body == "Quiet please"
    assert sign.data.size == pytest.approx(0.3)  # text: Y of the scale is the letter height
    assert collection.objects["Window light target"].type == "EMPTY"

    lights = {obj.data.type: obj.data for obj in collection.objects if obj.type == "LIGHT"}
    assert lights["SUN"].energy == pytest.approx(3.5)  # W/m2, Blender's sun strength unit
    sun = next(obj for obj in collection.objects if obj.type == "LIGHT" and obj.data.type == "SUN")
    assert list(sun.rotation_euler) == pytest.approx([math.radians(a) for a in nook["lights"][0]["rotation"]])
    assert (lights["POINT"].energy, lights["SPOT"].energy, lights["AREA"].energy) == (60, 250, 120)
    assert _close(lights["POINT"].color, _linear("#ffd8a0"))

    camera = scene.camera
    assert camera is not None and camera.users_collection[0] == collection
    assert camera.data.lens == pytest.approx(35)
    import mathutils

    looking = camera.rotation_euler.to_matrix() @ mathutils.Vector((0, 0, -1))
    wanted = (mathutils.Vector(nook["camera"]["target"]) - mathutils.Vector(nook["camera"]["location"]))
    assert looking.angle(wanted) < 1e-4

    background = next(n for n in scene.world.node_tree.nodes if n.type == "BACKGROUND")
    assert _close(background.inputs["Color"].default_value[:3], _linear("#1a2030"))
    assert background.inputs["Strength"].default_value == pytest.approx(0.4)

    notes = bpy.data.texts[f"{TITLE} notes"]
    assert not notes.use_module
    content = notes.as_string()
    assert nook["pitch"] in content and all(note in content for note in nook["notes"])
    assert "Suggested by hand for 'a reading nook'" in content


def test_a_long_title_leaves_each_part_its_name(addon, bpy_module, clean_scene, nook):
    # 60 characters, 66 bytes: every "<title> part" name is longer than Blender 4.2 keeps.
    nook["title"] = "Serre abandonnée envahie de fougères et de lierre à l'aube ét"
    built = addon.apply.scene_idea.build_idea(clean_scene, nook)
    names = [built.camera.name, built.world.name, built.text.name] + [light.name for light in built.lights]
    parts = ["camera", "world", "notes", "sun light 1", "point light 2", "spot light 3", "area light 4"]
    for name, part in zip(names, parts, strict=True):
        head = name.removesuffix(" " + part)
        assert head != name and nook["title"].startswith(head) and len(head) > 40, name
        assert len(name.encode()) <= 63, name


def test_an_existing_scene_camera_stays(addon, bpy_module, stored):
    bpy = bpy_module
    own = bpy.data.objects.new("Mine", bpy.data.cameras.new("Mine"))
    stored.collection.objects.link(own)
    stored.camera = own
    bpy.ops.atelier.apply_scene_idea(index=0)
    assert bpy.context.scene.camera.name == "Mine"
    assert f"{TITLE} camera" in bpy.data.objects


def test_applying_is_one_undo_step(addon, bpy_module, stored):
    bpy = bpy_module
    bpy.ops.ed.undo_push(message="init")
    before = scene_state(bpy)
    assert bpy.ops.atelier.apply_scene_idea("EXEC_DEFAULT", True, index=0) == {"FINISHED"}
    assert TITLE in bpy.data.collections and bpy.context.scene.camera is not None
    bpy.ops.ed.undo()
    assert scene_state(bpy) == before


def test_ideas_survive_save_and_reload_and_still_build(addon, bpy_module, stored, nook, tmp_path):
    bpy = bpy_module
    path = str(tmp_path / "ideas.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.read_homefile(use_empty=True)
    assert len(bpy.context.scene.atelier.ideas) == 0
    bpy.ops.wm.open_mainfile(filepath=path)
    (item,) = bpy.context.scene.atelier.ideas
    assert item.title == TITLE and json.loads(item.document) == nook
    assert bpy.ops.atelier.apply_scene_idea(index=0) == {"FINISHED"}
    assert TITLE in bpy.data.collections


def test_a_failed_build_removes_what_it_made(addon, bpy_module, stored, nook, monkeypatch):
    bpy = bpy_module
    before = scene_state(bpy)
    make_camera = addon.apply.scene_idea._camera

    def camera_then_failure(spec, name, made):
        # Fails once objects, meshes, materials, lights and the camera exist.
        make_camera(spec, name, made)
        raise RuntimeError("the camera could not be made")

    monkeypatch.setattr(addon.apply.scene_idea, "_camera", camera_then_failure)
    with pytest.raises(RuntimeError, match="the camera could not be made"):
        addon.apply.scene_idea.build_idea(bpy.context.scene, nook)
    assert scene_state(bpy) == before
    assert not any(name.startswith(("Armchair", TITLE)) for name in bpy.data.meshes.keys())


@pytest.mark.parametrize("index, says", [(1, "there is no idea 1; the index runs from 0 to 0"),
                                         (-1, "there is no idea -1")])
def test_an_index_out_of_range_is_refused(addon, bpy_module, stored, index, says):
    before = scene_state(bpy_module)
    with pytest.raises(RuntimeError, match=says):
        bpy_module.ops.atelier.apply_scene_idea(index=index)
    assert scene_state(bpy_module) == before


def test_applying_without_ideas_says_to_suggest_first(addon, bpy_module, clean_scene):
    with pytest.raises(RuntimeError, match="Suggest scene ideas first"):
        bpy_module.ops.atelier.apply_scene_idea(index=0)


def test_a_result_with_one_bad_idea_stores_none_of_them(addon, bpy_module, stored, nook):
    before = scene_state(bpy_module)
    bad = dict(nook, objects="none")
    with pytest.raises(addon.client.session.ApplyError,
                       match="idea 2 is not a valid scene idea"):
        addon.apply.scene_idea.store_ideas(stored, [nook, bad], prompt="x", engine="m")
    assert scene_state(bpy_module) == before


# --------------------------------------------------------------------------- suggesting


def test_the_builtin_engine_suggests_valid_ideas(addon, bpy_module, clean_scene):
    bpy = bpy_module
    result = bpy.ops.atelier.suggest_scene(prompt="an abandoned greenhouse", count=2, model="builtin", seed=3)
    assert result == {"FINISHED"}
    ideas = bpy.context.scene.atelier.ideas
    assert len(ideas) == 2 and all(idea.engine == "builtin" for idea in ideas)
    for idea in ideas:
        addon.core.ideas.check_idea(idea.document)
    # Labelled as built-in, with the template and seed that make it again.
    record = json.loads(ideas[1].provenance)
    assert (record["engine"], record["seed"]) == ("builtin", 3) and len(record["template"]) == 2
    made_by = f"builtin, template '{record['template'][1]}', seed 3"
    assert addon.apply.scene_idea.origin(ideas[1], 1) == made_by
    ideas[1].show_details = True
    shown = " ".join(panel_recorder.labels(panel_recorder.draw(bpy, addon.panels.ideas.ATELIER_PT_ideas)))
    assert f"From {made_by}" in shown
    assert bpy.ops.atelier.apply_scene_idea(index=1) == {"FINISHED"}
    assert f"Suggested by {made_by} for 'an abandoned greenhouse'" in bpy.data.texts[-1].as_string()


@pytest.mark.parametrize("provenance", ["{not json", "[1, 2]", '{"template": [{"x": 1}], "parameters": 7}',
                                        '{"template": ["a/b"], "parameters": {"seed": true}}'])
def test_a_record_from_someone_elses_file_is_only_shown_in_plain_parts(addon, clean_scene, nook, provenance):
    addon.apply.scene_idea.store_ideas(clean_scene, [nook], prompt="a nook", engine="some/model")
    clean_scene.atelier.ideas[0].provenance = provenance
    shown = addon.apply.scene_idea.origin(clean_scene.atelier.ideas[0], 0)
    assert shown in ("some/model", "some/model, template 'a/b'")


@pytest.mark.parametrize("prompt, count, says", [
    ("", 3, "the prompt is empty; describe the scene you want ideas for"),
    ("a nook", 0, "count must be a whole number from 1 to 5, got 0"),
    ("a nook", 9, "count must be a whole number from 1 to 5, got 9"),
])
@pytest.mark.parametrize("model", ["builtin", "some/text-model"])
def test_bad_suggestion_requests_are_refused_and_nothing_changes(addon, bpy_module, stored, prompt, count,
                                                                 says, model, monkeypatch):
    # Refused before the backend starts (this interpreter could run it).
    monkeypatch.setenv("ATELIER_PYTHON", sys.executable)
    before = scene_state(bpy_module)
    with pytest.raises(RuntimeError, match=says):
        bpy_module.ops.atelier.suggest_scene(prompt=prompt, count=count, model=model)
    assert scene_state(bpy_module) == before


def test_a_backend_result_is_stored_with_what_was_cleaned(addon, bpy_module, clean_scene, nook):
    # The operator's apply step, as the job mixin calls it when the result event arrives.
    from types import SimpleNamespace

    protocol, results = addon.core.protocol, addon.core.results
    record = addon.core.provenance.build("ideas", "transformers", "tiny", {}, versions={})
    nook["title"] = "Nook: dusk"
    event = protocol.ResultEvent(id="r", metadata=record,
                                 data={"ideas": [nook], "repairs": ["pitch was cleaned to ..."]})
    operator = SimpleNamespace(prompt="a nook", _model_sent="tiny")
    result = results.parse_result("ideas", event, None)
    suggest = addon.operators.ideas.ATELIER_OT_suggest_scene
    message = suggest.apply_result(operator, bpy_module.context, result)
    assert message == ("1 scene idea(s) for 'a nook': 'Nook- dusk'; cleaned: pitch was cleaned to ...; "
                       "idea 1: title was cleaned to \"Nook- dusk\"")
    (item,) = clean_scene.atelier.ideas
    assert (item.title, item.engine, item.prompt) == ("Nook- dusk", "tiny", "a nook")

    before = scene_state(bpy_module)
    # A bad idea is refused on receipt, before anything could be applied.
    bad = protocol.ResultEvent(id="r", metadata=record, data={"ideas": [dict(nook, lights=[{}])]})
    with pytest.raises(results.ResultError, match=r"idea 1 is not a valid scene idea: lights\[0\] is miss"):
        results.parse_result("ideas", bad, None)
    assert scene_state(bpy_module) == before


def test_the_scene_context_names_the_selection_and_palette(addon, bpy_module, clean_scene):
    bpy = bpy_module
    mesh = bpy.data.meshes.new("Chair")
    addon.apply.scene_idea._fill_mesh(mesh, "cube")
    chair = bpy.data.objects.new("Chair", mesh)
    chair.scale = (0.5, 0.6, 0.9)
    clean_scene.collection.objects.link(chair)
    chair.select_set(True)
    bpy.context.view_layer.update()
    palette = bpy.data.palettes.new("Dusk")
    addon.apply.palette.set_palette_color(palette.colors.new(), (1.0, 128 / 255, 0.0))
    palette.colors.new().color = (float("nan"), 0.5, 0.5)  # a script's; no colour to name
    clean_scene.atelier.palette.palette = palette
    context = addon.operators.ideas.scene_context(bpy.context)
    assert context == {"selected": [{"name": "Chair", "dimensions": [0.5, 0.6, 0.9]}],
                       "palette": ["#ff8000"]}
    chair.scale.x = float("nan")  # a script's: a size that says nothing, not a request refused
    bpy.context.view_layer.update()
    assert addon.operators.ideas.scene_context(bpy.context)["selected"][0]["dimensions"] == [0.0, 0.6, 0.9]


def test_a_backend_error_is_reported_and_nothing_changes(addon, bpy_module, stored, monkeypatch, tmp_path):
    # The real backend process answers; the text model it is asked for does not exist.
    monkeypatch.setenv("ATELIER_PYTHON", sys.executable)
    monkeypatch.setenv("ATELIER_DEVICE", "cpu")
    before = scene_state(bpy_module)
    try:
        with pytest.raises(RuntimeError, match="no-model' does not exist"):  # the backend's answer
            bpy_module.ops.atelier.suggest_scene(prompt="a nook", count=1, model=str(tmp_path / "no-model"))
    finally:
        addon.client.session.shutdown()
    assert scene_state(bpy_module) == before


def test_the_panel_hangs_below_the_atelier_tab(addon, bpy_module):
    panel = bpy_module.types.ATELIER_PT_ideas
    assert panel.bl_parent_id == "ATELIER_PT_main" and panel.bl_category == "Atelier"


def test_the_panel_lists_titles_and_pitches_and_opens_details(addon, bpy_module, stored, nook,
                                                                monkeypatch):
    monkeypatch.setenv("ATELIER_TEXT_MODEL", "builtin")
    other = dict(nook, title="Greenhouse", pitch="Glass and ferns.")
    addon.apply.scene_idea.store_ideas(stored, [nook, other], prompt="a nook", engine="hand")
    stored.atelier.idea_request.prompt = "a nook"
    stored.atelier.ideas[1].show_details = True
    calls = panel_recorder.draw(bpy_module, addon.panels.ideas.ATELIER_PT_ideas)
    text = panel_recorder.labels(calls)
    assert panel_recorder.operator_settings(calls, "atelier.suggest_scene")[0]["prompt"] == "a nook"
    applies = panel_recorder.operator_settings(calls, "atelier.apply_scene_idea")
    assert [values["index"] for values in applies] == [0, 1]
    assert TITLE in text and "Greenhouse" in text and "Glass and ferns." in text
    assert " ".join(text).count("A deep armchair by a tall window") == 1  # the pitch, wrapped
    # Only the opened idea shows its details.
    assert text.count(f"Mood: {nook['mood']}") == 1
    assert f"{len(nook['objects'])} objects, {len(nook['lights'])} lights, 35 mm camera" in text
    assert textwrap.wrap(f"- {nook['notes'][0]}", addon.panels.sidebar.WRAP)[0] in text

    stored.atelier.ideas[1].document = "not json"
    calls = panel_recorder.draw(bpy_module, addon.panels.ideas.ATELIER_PT_ideas)
    assert "This idea's document cannot be read" in panel_recorder.labels(calls)


def test_building_checks_an_idea_handed_over_directly(addon, bpy_module, clean_scene, nook):
    before = scene_state(bpy_module)
    idea = dict(nook, world={"color": "#000000", "strength": "bright"})
    with pytest.raises(addon.client.session.ApplyError,
                       match="not a valid scene idea: world.strength must be a"):
        addon.apply.scene_idea.build_idea(clean_scene, idea)
    assert scene_state(bpy_module) == before
