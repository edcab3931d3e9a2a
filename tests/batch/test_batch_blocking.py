"""``atelier.batch_textures`` as scripts and ``blender -b`` use it (blocking), in real Blender
with the real backend and the tiny model: prompt sources, the CSV, variations, maps, failures
reported by name after the rest is applied, and the JSON report."""

from __future__ import annotations

import json

import pytest
from blender_helpers import image_pixels, mesh_object

from core import schema


def history(scene) -> dict:
    return {entry.name: entry for entry in scene.atelier.history}


def read_report(path) -> dict:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert schema.problems(document, schema.cached("batch_report.json")) == []
    return document


def write_csv(tmp_path, *lines: str):
    path = tmp_path / "batch.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_operator_has_the_published_signature(bpy_module, addon):
    assert repr(bpy_module.ops.atelier.batch_textures) == (
        "bpy.ops.atelier.batch_textures(source='SELECTED', filepath=\"\", prompt_from='NAME', prompt=\"\", "
        "property_name=\"atelier_prompt\", variations=1, seed=-1, maps=set(), style=\"\", report_path=\"\")")


def test_selected_objects_get_textures_from_their_names(bpy_module, objects, batch_scene, backend_env,
                                                        tmp_path):
    bpy = bpy_module
    bpy.ops.object.camera_add()
    camera = bpy.context.active_object
    brick, tile = objects("Old_Brick", "Blue_Tile.001")
    camera.select_set(True)  # selected too, but it cannot hold a material: not an item
    assert bpy.ops.atelier.batch_textures(seed=5, report_path=str(tmp_path / "out" / "report.json")) == {
        "FINISHED"}

    assert (brick.active_material.name, tile.active_material.name) == ("Old Brick", "Blue Tile")
    entries = history(batch_scene)
    assert {name: (e.prompt, e.seed, e.targets, e.width) for name, e in entries.items()} == {
        "Old Brick": ("Old Brick", 5, "Old_Brick", 64), "Blue Tile": ("Blue Tile", 5, "Blue_Tile.001", 64)}
    report = read_report(tmp_path / "out" / "report.json")
    assert report["summary"] == {"items": 2, "done": 2, "partial": 0, "failed": 0, "cancelled": 0,
                                 "skipped": 0}
    assert report["source"] == "SELECTED" and report["model"] == str(backend_env)
    assert [(i["object"], i["variations"][0]["material"], i["variations"][0]["seed"])
            for i in report["items"]] == [("Old_Brick", "Old Brick", 5), ("Blue_Tile.001", "Blue Tile", 5)]
    # One backend served both, and it serves the next request.
    assert bpy.ops.atelier.generate_texture(prompt="lava", seed=1, maps=set(), width=64, height=64,
                                            steps=2) == {"FINISHED"}


def test_a_fixed_prompt_and_seed_give_every_object_the_same_picture(bpy_module, objects, batch_scene):
    bpy = bpy_module
    first, second = objects("A", "B")
    outcome = bpy.ops.atelier.batch_textures(prompt_from="FIXED", prompt="  red   brick ", seed=9)
    assert outcome == {"FINISHED"}
    pictures = [image_pixels(obj.active_material.node_tree.nodes["Image Texture"].image)
                for obj in (first, second)]
    assert abs(pictures[0] - pictures[1]).max() == 0 and pictures[0][..., :3].std() > 0.01
    assert [e.prompt for e in batch_scene.atelier.history] == ["red brick", "red brick"]


def test_objects_without_the_property_are_named_and_the_rest_applied(bpy_module, objects, batch_scene,
                                                                     tmp_path):
    bpy = bpy_module
    moss, bare, number = objects("Moss", "Bare", "Number")
    moss["atelier_prompt"] = "green moss"
    number["atelier_prompt"] = 12  # not text
    report = tmp_path / "report.json"
    with pytest.raises(RuntimeError, match=r"1 of 3 item\(s\) done, 2 skipped.*not made: Bare: has no text "
                                           r"in its custom property 'atelier_prompt'.*; Number: "):
        bpy.ops.atelier.batch_textures(prompt_from="PROPERTY", report_path=str(report))
    assert moss.active_material.name == "green moss"
    assert bare.active_material is None and number.active_material is None
    assert [e.targets for e in batch_scene.atelier.history] == ["Moss"]
    statuses = {i["object"]: i["status"] for i in read_report(report)["items"]}
    assert statuses == {"Moss": "done", "Bare": "skipped", "Number": "skipped"}


def test_csv_rows_run_and_bad_rows_are_reported_by_line(bpy_module, objects, batch_scene, tmp_path):
    bpy = bpy_module
    wall, floor, door = objects("Wall", "Floor", "Door")
    bpy.ops.object.light_add()
    bpy.context.active_object.name = "Lamp"
    csv_file = write_csv(tmp_path, "object,prompt,seed", "Wall,red brick,7", "Ghost,fog,1", "Floor,tiles,x",
                         "Door,,3", "Lamp,glow,2")
    report = tmp_path / "report.json"
    with pytest.raises(RuntimeError) as raised:
        bpy.ops.atelier.batch_textures(source="CSV", filepath=str(csv_file), report_path=str(report))
    message = str(raised.value)
    assert "2 of 5 item(s) done, 3 skipped" in message
    assert "line 3 (Ghost): there is no object named 'Ghost'" in message
    assert "line 4 (Floor): seed 'x' is not a whole number" in message
    assert "line 6 (Lamp): 'Lamp' is a light and cannot hold a material" in message
    assert wall.active_material.name == "red brick" and door.active_material.name == "Door"
    assert floor.active_material is None
    entries = history(batch_scene)
    assert (entries["red brick"].seed, entries["Door"].seed) == (7, 3)  # the rows' seeds
    document = read_report(report)
    assert document["csv"] == str(csv_file) and document["source"] == "CSV"
    assert [(i.get("line"), i["object"], i["status"]) for i in document["items"]] == [
        (2, "Wall", "done"), (3, "Ghost", "skipped"), (4, "Floor", "skipped"), (5, "Door", "done"),
        (6, "Lamp", "skipped")]


def test_variations_are_numbered_and_the_first_is_applied(bpy_module, objects, batch_scene, tmp_path):
    bpy = bpy_module
    (crate,) = objects("Crate")
    assert bpy.ops.atelier.batch_textures(prompt_from="FIXED", prompt="old crate", variations=3,
                                          seed=20) == {"FINISHED"}
    entries = batch_scene.atelier.history
    assert [(e.name, e.material_name, e.image_name, e.seed, e.targets) for e in entries] == [
        ("old crate v1", "old crate v1", "old crate v1", 20, "Crate"),
        ("old crate v2", "old crate v2", "old crate v2", 21, ""),
        ("old crate v3", "old crate v3", "old crate v3", 22, "")]
    assert [slot.material.name for slot in crate.material_slots] == ["old crate v1"]
    pictures = [image_pixels(bpy.data.images[f"old crate v{n}"]) for n in (1, 2)]
    assert abs(pictures[0] - pictures[1]).max() > 0.01  # other seeds, other pictures
    # The variations on no object are kept in the file with their history.
    path = tmp_path / "crates.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    assert {"old crate v1", "old crate v2", "old crate v3"} <= set(bpy.data.materials.keys())
    assert bpy.data.objects["Crate"].active_material.name == "old crate v1"
    bpy.ops.object.select_all(action="DESELECT")
    bpy.data.objects["Crate"].select_set(True)
    assert bpy.ops.atelier.texture_history_apply(index=2) == {"FINISHED"}
    assert bpy.data.objects["Crate"].active_material.name == "old crate v3"


def test_maps_from_a_csv_row_and_a_failed_item_does_not_stop_the_rest(
        bpy_module, objects, batch_scene, tmp_path, monkeypatch):
    """Classic maps where a row asks for them; then a maps model that cannot be loaded fails the
    rows that want maps (their textures are not applied) while the others are applied."""
    bpy = bpy_module
    wall, floor = objects("Wall", "Floor")
    csv_file = write_csv(tmp_path, "object,maps", "Wall,normal roughness", "Floor,")
    assert bpy.ops.atelier.batch_textures(source="CSV", filepath=str(csv_file), seed=1) == {"FINISHED"}
    assert [m.role for m in history(batch_scene)["Wall"].maps] == ["normal", "roughness"]
    assert len(history(batch_scene)["Floor"].maps) == 0

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.scene.atelier.texture.width = bpy.context.scene.atelier.texture.height = 64
    bpy.context.scene.atelier.texture.steps = 2
    wall, floor = mesh_object(bpy, "Wall"), mesh_object(bpy, "Floor")
    monkeypatch.setenv("ATELIER_MAPS_MODEL", str(tmp_path / "no-such-marigold"))
    with pytest.raises(RuntimeError, match=r"1 of 2 item\(s\) done, 1 failed.*not made: line 2 \(Wall\): "):
        bpy.ops.atelier.batch_textures(source="CSV", filepath=str(csv_file), seed=1)
    assert wall.active_material is None and floor.active_material.name == "Floor"
    assert len(bpy.data.images) == 1 and [e.name for e in bpy.context.scene.atelier.history] == ["Floor"]


def test_a_style_expands_every_prompt(bpy_module, objects, batch_scene):
    bpy = bpy_module
    (wall,) = objects("Wall")
    assert bpy.ops.atelier.batch_textures(style="Hand Painted", seed=2) == {"FINISHED"}
    entry = batch_scene.atelier.history[0]
    assert (entry.prompt, entry.style) == ("Wall", "hand-painted")
    sent = wall.active_material.node_tree.nodes["Image Texture"].image["atelier_prompt"]
    assert sent.startswith("Wall, hand-painted texture")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "no mesh object is selected; select the objects to texture"),
    (dict(prompt_from="FIXED", prompt=" "), "prompt_from is 'FIXED' but the prompt is empty"),
    (dict(prompt_from="PROPERTY", property_name=""), "property_name is empty"),
    (dict(variations=0), "variations 0 is out of range; use 1 to 16"),
    (dict(seed=-3), "seed -3 is out of range"),
    (dict(style="no-such-style"), "unknown style 'no-such-style'"),
    (dict(source="CSV"), "no filepath is set"),
    (dict(source="CSV", filepath="/no/such/batch.csv"), "there is no CSV file /no/such/batch.csv"),
])
def test_bad_input_is_refused_with_the_scene_unchanged(bpy_module, objects, batch_scene, job_state, kwargs,
                                                      message):
    bpy = bpy_module
    if kwargs:  # the empty selection case selects nothing
        objects("Cube")
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.atelier.batch_textures(**kwargs)
    assert len(bpy.data.materials) == len(bpy.data.images) == len(batch_scene.atelier.history) == 0
    assert message.split(";")[0] in job_state.last_error and not job_state.running


def test_a_csv_whose_rows_all_fail_runs_nothing(bpy_module, objects, batch_scene, tmp_path):
    bpy = bpy_module
    objects("Cube")
    csv_file = write_csv(tmp_path, "object,seed", "Ghost,1", "Cube,-9")
    with pytest.raises(RuntimeError, match=r"nothing to texture: line 2 \(Ghost\): there is no object named "
                                           r"'Ghost'.*; line 3 \(Cube\): seed '-9'"):
        bpy.ops.atelier.batch_textures(source="CSV", filepath=str(csv_file))
    assert len(bpy.data.materials) == 0
    with pytest.raises(RuntimeError, match="must be a header"):
        bpy.ops.atelier.batch_textures(source="CSV", filepath=str(write_csv(tmp_path, "Cube,red")))


def test_one_undo_removes_the_whole_batch(bpy_module, objects, batch_scene):
    bpy = bpy_module
    objects("Slate", "Moss")
    bpy.ops.ed.undo_push(message="init")
    assert bpy.ops.atelier.batch_textures("EXEC_DEFAULT", True, variations=2) == {"FINISHED"}
    assert len(bpy.data.materials) == 4 and len(bpy.context.scene.atelier.history) == 4
    bpy.ops.ed.undo()
    assert len(bpy.data.materials) == len(bpy.data.images) == len(bpy.context.scene.atelier.history) == 0
    assert [bpy.data.objects[name].active_material for name in ("Slate", "Moss")] == [None, None]
