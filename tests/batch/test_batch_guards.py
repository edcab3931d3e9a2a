"""What the batch queue refuses or survives: linked objects, report paths, relative paths in an
unsaved file, prompts too long, sizes no model takes, batches too big, duplicate rows, a backend
that crashes mid-batch, and more items than the sidebar has room for."""

from __future__ import annotations

import os
import signal
import time

import pytest
from blender_helpers import mesh_object
from modal_events import ESC, TIMER
from test_batch_blocking import read_report, write_csv
from test_batch_modal import batch_probe, tick_until


def linked_mesh(bpy, tmp_path):
    """A mesh (with one material slot) linked from another .blend; the scene is emptied."""
    bpy.ops.wm.read_homefile(use_empty=True)
    shelf = mesh_object(bpy, "Shelf")
    shelf.data.name = "Shelf"
    shelf.data.materials.append(bpy.data.materials.new("Wood"))
    library = tmp_path / "library.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(library))
    bpy.ops.wm.read_homefile(use_empty=True)
    with bpy.data.libraries.load(str(library), link=True) as (_source, linked):
        linked.meshes = ["Shelf"]
    settings = bpy.context.scene.atelier.texture
    settings.width = settings.height = 64
    settings.steps = 2
    return bpy.data.meshes["Shelf"]


def test_linked_objects_are_row_problems_and_one_failing_oddly_fails_alone(bpy_module, addon, batch_scene,
                                                                           backend_env, tmp_path):
    bpy, context = bpy_module, bpy_module.context
    mesh = linked_mesh(bpy, tmp_path)
    shared = bpy.data.objects.new("Shared", mesh)  # a local object showing a linked mesh
    context.scene.collection.objects.link(shared)
    local = mesh_object(bpy, "Local")
    for obj in (shared, local):
        obj.select_set(True)
    refused = (r"1 of 2 item\(s\) done, 1 skipped.*not made: Shared: the mesh 'Shelf' is linked from a "
               r"library and cannot be changed in this file")
    with pytest.raises(RuntimeError, match=refused):
        bpy.ops.atelier.batch_textures(seed=1)
    assert local.active_material.name == "Local" and shared.active_material.name == "Wood"

    # Linked after the batch planned it: applying raises what ApplyError is not; that item
    # fails, the others are applied.
    late, other = mesh_object(bpy, "Late"), mesh_object(bpy, "Other")
    for obj in (late, other):
        obj.select_set(True)
    shared.select_set(False)
    local.select_set(False)
    probe = batch_probe(addon, seed=1)
    assert probe._start(context) is not None, probe.reports
    late.data = mesh
    assert tick_until(probe, context) == {"CANCELLED"}
    ((kind, message),) = probe.reports
    assert kind == {"ERROR"} and "1 of 2 item(s) done, 1 failed" in message
    assert "Late: cannot be applied: AttributeError" in message
    assert other.active_material.name == "Other" and late.active_material.name == "Wood"
    assert "Late" not in bpy.data.materials and "Late" not in bpy.data.images


@pytest.mark.parametrize(("where", "message"), [
    ("folder", "is a folder; name a file in it"),
    ("under a file", "a file stands in its way"),
])
def test_a_report_path_that_cannot_be_written_is_refused_first(bpy_module, objects, batch_scene, job_state,
                                                              tmp_path, where, message):
    objects("Cube")
    (tmp_path / "file").write_text("")
    path = tmp_path if where == "folder" else tmp_path / "file" / "report.json"
    with pytest.raises(RuntimeError, match=message):
        bpy_module.ops.atelier.batch_textures(report_path=str(path))
    assert len(bpy_module.data.materials) == 0 and not job_state.running


def test_a_refused_batch_still_writes_its_report(bpy_module, objects, batch_scene, tmp_path):
    bpy = bpy_module
    report = tmp_path / "report.json"
    with pytest.raises(RuntimeError, match="no mesh object is selected"):
        bpy.ops.atelier.batch_textures(report_path=str(report))
    document = read_report(report)
    assert document["error"].startswith("no mesh object is selected") and document["items"] == []
    objects("Cube")
    csv_file = write_csv(tmp_path, "object", "Ghost")
    with pytest.raises(RuntimeError, match="nothing to texture"):
        bpy.ops.atelier.batch_textures(source="CSV", filepath=str(csv_file), report_path=str(report))
    document = read_report(report)
    assert document["error"].startswith("nothing to texture: line 2 (Ghost)")
    assert [(item["line"], item["status"]) for item in document["items"]] == [(2, "skipped")]
    assert document["csv"] == str(csv_file)


def test_relative_paths_need_a_saved_file(bpy_module, objects, batch_scene, tmp_path):
    bpy = bpy_module
    objects("Cube")
    assert not bpy.data.filepath
    for kwargs in (dict(source="CSV", filepath="//batch.csv"), dict(report_path="//report.json")):
        with pytest.raises(RuntimeError, match="is relative to the .blend file, which is not saved yet; "
                                               "save the .blend or give an absolute path"):
            bpy.ops.atelier.batch_textures(**kwargs)
    write_csv(tmp_path, "object", "Cube")
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    assert bpy.ops.atelier.batch_textures(source="CSV", filepath="//batch.csv",
                                          report_path="//report.json") == {"FINISHED"}
    assert read_report(tmp_path / "report.json")["csv"] == str(tmp_path / "batch.csv")  # absolute


def test_rows_whose_prompts_are_too_long_are_named_and_the_rest_run(bpy_module, objects, batch_scene,
                                                                    tmp_path):
    bpy = bpy_module
    wall, roof, door = objects("Wall", "Roof", "Door")
    long_words = "old " * 240  # fits alone, not with a style's words
    csv_file = write_csv(tmp_path, "object,prompt", "Wall,brick", f"Roof,{'x' * 1001}",
                         f"Door,{long_words}")
    with pytest.raises(RuntimeError) as raised:
        bpy.ops.atelier.batch_textures(source="CSV", filepath=str(csv_file), style="Hand Painted")
    message = str(raised.value)
    assert "1 of 3 item(s) done, 2 skipped" in message
    assert "line 3 (Roof): the prompt has 1001 characters; shorten it to 1000" in message
    assert "line 4 (Door): " in message and "characters" in message
    assert wall.active_material is not None and roof.active_material is door.active_material is None


def test_duplicate_rows_sizes_and_batch_size_are_checked(bpy_module, addon, objects, batch_scene,
                                                         tmp_path, monkeypatch):
    bpy = bpy_module
    (cube,) = objects("Cube")
    csv_file = write_csv(tmp_path, "object,seed", "Cube,1", "Cube,2")
    with pytest.raises(RuntimeError, match=r"line 3 \(Cube\): 'Cube' is already listed at line 2"):
        bpy.ops.atelier.batch_textures(source="CSV", filepath=str(csv_file))
    assert cube.active_material.name == "Cube" and bpy.context.scene.atelier.history[0].seed == 1
    batch_scene.atelier.texture.width = 100
    with pytest.raises(RuntimeError, match="width 100 is not a multiple of 16; use 96 or 112"):
        bpy.ops.atelier.batch_textures()
    batch_scene.atelier.texture.width = 64
    monkeypatch.setattr(addon.core.batch, "MAX_JOBS", 3)
    with pytest.raises(RuntimeError, match=r"asks for 4 textures, more than one batch makes \(3\)"):
        bpy.ops.atelier.batch_textures(variations=4)


def test_jobs_are_sent_a_few_at_a_time_and_one_line_is_printed_per_item(bpy_module, addon, objects,
                                                                        batch_scene, capsys):
    bpy, session = bpy_module, addon.client.session
    objects(*(f"Tile{n}" for n in range(5)))
    largest = []
    original = session.submit

    def counting(*args, **kwargs):
        job = original(*args, **kwargs)
        largest.append(len(session.active_jobs()))
        return job

    session.submit = counting
    try:
        assert bpy.ops.atelier.batch_textures(seed=3, variations=2) == {"FINISHED"}
    finally:
        session.submit = original
    assert len(largest) == 10 and max(largest) == 2  # the local backend's limit
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Atelier batch: ")]
    assert printed == [f"Atelier batch: Tile{n}: done" for n in range(5)]


def test_jobs_a_backend_crash_ended_before_they_began_are_sent_again(bpy_module, addon, objects,
                                                                     batch_scene, job_state):
    context, session = bpy_module.context, addon.client.session
    settings = batch_scene.atelier.texture
    settings.width = settings.height = 128
    settings.steps = 60  # the first still runs when the backend is killed
    first, second, third = objects("First", "Second", "Third")
    probe = batch_probe(addon, seed=2)
    run = probe._start(context)
    rows = job_state.batch_items
    assert tick_until(probe, context, lambda: run.items[0].variations[0].job.step > 0) == {"PASS_THROUGH"}
    os.kill(session.current_client()._transport.pid, signal.SIGKILL)
    assert tick_until(probe, context) == {"CANCELLED"}
    ((kind, message),) = probe.reports
    assert "2 of 3 item(s) done, 1 failed" in message and "First: the backend process exited" in message
    assert [row.status for row in rows] == ["FAILED", "DONE", "DONE"]
    assert first.active_material is None and second.active_material and third.active_material
    assert os.listdir(addon.preferences.user_folder("jobs")) == []


def test_a_second_esc_stops_waiting_and_undo_waits_for_the_end(bpy_module, addon, objects, batch_scene,
                                                               job_state):
    from types import SimpleNamespace

    context = bpy_module.context
    settings = batch_scene.atelier.texture
    settings.width = settings.height = 256
    settings.steps = 150
    objects("One", "Two")
    probe = batch_probe(addon)
    probe._start(context)
    undo = SimpleNamespace(type="Z", value="PRESS", ctrl=True, oskey=False)
    assert probe.modal(context, undo) == {"RUNNING_MODAL"}
    assert probe.reports == [({"WARNING"}, "Undo waits until the batch ends (Esc cancels it)")]
    assert probe.modal(context, ESC) == {"RUNNING_MODAL"}
    outcome = probe.modal(context, ESC)  # no answer awaited: every job ends here, now
    assert outcome == {"CANCELLED"} and probe._run.finished
    assert [row.status for row in job_state.batch_items] == ["CANCELLED", "CANCELLED"]
    assert not addon.client.session.active_jobs() and not job_state.running


def test_the_panel_shows_the_items_around_the_work(bpy_module, addon):
    shown_rows = addon.panels.batch.shown_rows
    statuses = ["DONE"] * 30 + ["RUNNING", "QUEUED"] + ["QUEUED"] * 20
    assert shown_rows(statuses) == list(range(28, 40))
    assert shown_rows(["DONE"] * 5 + ["QUEUED"] * 3) == list(range(8))
    ended = ["DONE"] * 20 + ["FAILED"] + ["DONE"] * 20 + ["SKIPPED"]
    assert shown_rows(ended) == [20, 41]
    assert shown_rows(["DONE"] * 20) == list(range(12))


def test_cancelling_a_batch_with_backend_maps_applies_nothing_without_them(
        bpy_module, addon, objects, batch_scene, job_state, tiny_marigold, monkeypatch, tmp_path):
    """Maps from a backend model chain after each texture; Esc while a maps job runs leaves that
    item unapplied, never given classic maps instead."""
    bpy, context = bpy_module, bpy_module.context
    monkeypatch.setenv("ATELIER_MAPS_MODEL", str(tiny_marigold))
    (wall,) = objects("Wall")
    assert bpy.ops.atelier.batch_textures(seed=1, maps={"NORMAL"}) == {"FINISHED"}
    entry = bpy.context.scene.atelier.history[0]
    assert [(m.role, m.model) for m in entry.maps] == [("normal", str(tiny_marigold))]  # not classic

    wall.select_set(False)
    (floor,) = objects("Floor")
    probe = batch_probe(addon, seed=1, maps={"NORMAL"})
    run = probe._start(context)
    variation = run.items[0].variations[0]
    deadline = time.monotonic() + 120
    while variation.texture is None:  # the texture is made, its maps job sent
        assert time.monotonic() < deadline and probe.modal(context, TIMER) == {"PASS_THROUGH"}
        time.sleep(0.02)
    assert probe.modal(context, ESC) in ({"RUNNING_MODAL"}, {"CANCELLED"})
    assert tick_until(probe, context) == {"CANCELLED"}
    # Esc reaches the backend at the maps job's next step: one that finished first (a loaded
    # machine) is applied whole, as every finished job is, and never with classic maps instead.
    (status,) = [row.status for row in job_state.batch_items]
    if floor.active_material is None:
        assert status == "CANCELLED"
    else:
        entry = bpy.context.scene.atelier.history[-1]
        assert status == "DONE" and entry.targets == "Floor"
        assert [(m.role, m.model) for m in entry.maps] == [("normal", str(tiny_marigold))]
    assert os.listdir(addon.preferences.user_folder("jobs")) == []


def test_variation_names_taken_already_get_blenders_number(bpy_module, objects, batch_scene, tmp_path):
    bpy = bpy_module
    (crate,) = objects("Crate")  # a prompt that says "(box)", the suffix of a box-mapped material
    report = tmp_path / "report.json"
    for _ in range(2):
        assert bpy.ops.atelier.batch_textures(prompt_from="FIXED", prompt="old crate (box)", variations=2,
                                              seed=1, report_path=str(report)) == {"FINISHED"}
    names = [(e.name, e.material_name, e.image_name) for e in batch_scene.atelier.history]
    assert names[-2:] == [("old crate (box) v1.001",) * 3, ("old crate (box) v2.001",) * 3], names
    items = read_report(report)["items"]
    assert [v["material"] for v in items[0]["variations"]] == ["old crate (box) v1.001",
                                                               "old crate (box) v2.001"]
    assert crate.active_material.name == "old crate (box) v1.001"
