"""A file saved while the early material shows holds the scene as it was before the click: a
generated Image's pixels are never written to a .blend and the record comes with the PNG, so
the early material, its Image and its slot would be a black, unrecorded texture in place of the
artist's material. After the save the early material is back on, and the result lands as usual.
"""

from __future__ import annotations

import pytest
from blend_jobs import names_in_file
from blender_helpers import mesh_object
from early_material import TEXTURE, pixels, show_early, shown_image, texture_probe, texture_state, tick
from fault_points import resume


@pytest.mark.parametrize("old_paint", [True, False], ids=["slot-with-a-material", "no-slot"])
def test_a_save_while_the_early_material_shows_writes_the_scene_before_the_click(
        bpy_module, addon, clean_scene, paused_backend, tmp_path, old_paint):
    bpy = bpy_module
    cube = mesh_object(bpy)
    if old_paint:
        cube.data.materials.append(bpy.data.materials.new("old paint"))
    before = texture_state(bpy)
    probe = texture_probe(bpy, addon)
    show_early(probe, bpy.context, paused_backend)
    material = cube.active_material
    shown = pixels(shown_image(material))

    saved = tmp_path / "saved in the window.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(saved))
    stored = names_in_file(bpy, saved)
    assert (stored["materials"], stored["images"]) == (["old paint"] if old_paint else [], [])
    assert cube.active_material == material  # back on after the save, showing the same pixels
    assert len(cube.material_slots) == 1 and shown_image(material).source == "GENERATED"
    assert (pixels(shown_image(material)) == shown).all()

    resume(paused_backend)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    name = TEXTURE["prompt"]
    assert cube.active_material.name == name and shown_image(cube.active_material).packed_file is not None
    assert texture_state(bpy)["history_images"] == [(name, name, "Cube")]

    bpy.ops.wm.open_mainfile(filepath=str(saved))
    assert texture_state(bpy) == before  # the file as it was before the click, slots included


def test_a_save_after_an_undo_brought_the_early_material_back_writes_the_scene_before_the_click(
        bpy_module, addon, clean_scene, paused_backend, tmp_path):
    """An edit pushed while the early material showed holds it; once the call has ended, an undo
    of its step goes back there and shows it again. A save then writes the scene before the
    click all the same, and a redo still brings the texture back."""
    bpy = bpy_module
    cube = mesh_object(bpy)
    cube.data.materials.append(bpy.data.materials.new("old paint"))
    bpy.ops.ed.undo_push(message="before the click")
    probe = texture_probe(bpy, addon)
    show_early(probe, bpy.context, paused_backend)
    cube.location.x = 1.0
    bpy.ops.ed.undo_push(message="an edit while it shows")
    resume(paused_backend)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    bpy.ops.ed.undo_push(message="Generate Texture")  # as Blender pushes when the operator ends
    bpy.ops.ed.undo()
    name = TEXTURE["prompt"]
    cube = bpy.data.objects["Cube"]
    assert cube.location.x == 1.0 and cube.active_material.name == name  # the early one, read again
    assert shown_image(cube.active_material).source == "GENERATED"

    saved = tmp_path / "saved after the undo.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(saved))
    stored = names_in_file(bpy, saved)
    assert (stored["materials"], stored["images"]) == (["old paint"], [])
    assert cube.active_material.name == name  # back on after the save
    bpy.ops.ed.redo()
    cube = bpy.data.objects["Cube"]
    assert cube.active_material.name == name and shown_image(cube.active_material).packed_file is not None
