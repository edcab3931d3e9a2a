"""Palette operators refusing what they cannot use, in real Blender: a base colour or palette
colour that is not a number, and .gpl paths that name no file Atelier can write. Each says what
to change, with no traceback, and leaves the scene and the folders as they were."""

import panel_recorder
import pytest

NAN = float("nan")


def palettes(bpy) -> list[str]:
    return sorted(palette.name for palette in bpy.data.palettes)


def refused(run, match: str) -> str:
    with pytest.raises(RuntimeError, match=match) as error:
        run()
    assert "Traceback" not in str(error.value)
    return str(error.value)


@pytest.fixture
def palette(bpy_module, addon, clean_scene):
    """A palette made by the harmony rules inside Blender (no backend)."""
    assert bpy_module.ops.atelier.generate_palette(source="HARMONY", model="builtin", count=3) == {"FINISHED"}
    return clean_scene.atelier.palette.palette


# The built-in engine (inside Blender) and the backend job (refused before it is sent) check alike.
@pytest.mark.parametrize("source, model", [("HARMONY", "builtin"), ("HARMONY", ""), ("PROMPT", "builtin")])
def test_a_base_colour_that_is_not_a_number_is_refused(bpy_module, clean_scene, backend_env, source, model):
    bpy = bpy_module
    run = lambda: bpy.ops.atelier.generate_palette(  # noqa: E731
        source=source, model=model, prompt="rainy neon alley", base_color=(NAN, 0.5, 0.5))
    message = refused(run, r"base_color \(nan, 0.5, 0.5\) is not a colour; pick a colour")
    assert palettes(bpy) == [] and len(clean_scene.atelier.palettes) == 0
    assert bpy.context.window_manager.atelier.last_error in message


def test_a_palette_colour_that_is_not_a_number_is_refused_by_apply_and_export(
        bpy_module, clean_scene, palette, tmp_path):
    bpy = bpy_module
    bpy.ops.mesh.primitive_cube_add()
    material = bpy.data.materials.new("Box")
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    base = material.node_tree.nodes["Principled BSDF"].inputs["Base Color"]
    base.default_value = (0.5, 0.5, 0.5, 1.0)
    bpy.context.active_object.data.materials.append(material)
    palette.colors[1].color = (NAN, 0.2, 0.2)  # as a script may set it
    match = rf"colour 2 of palette '{palette.name}' \(nan, 0.2, 0.2\) is not a colour; pick that colour again"
    refused(lambda: bpy.ops.atelier.apply_palette(scope="SCENE"), match)
    refused(lambda: bpy.ops.atelier.export_palette(filepath=str(tmp_path / "out.gpl")), match)
    assert [m.name for m in bpy.data.materials] == ["Box"] and bpy.context.scene.world is None
    assert tuple(base.default_value) == pytest.approx((0.5, 0.5, 0.5, 1.0))
    assert list(tmp_path.iterdir()) == []


def test_the_panel_shows_the_colour_fields_to_fix_and_says_which(bpy_module, addon, palette):
    """The swatches cannot be named, but the panel still draws the fields the message points to."""
    bpy = bpy_module
    palette.colors[1].color = (NAN, 0.2, 0.2)
    calls = panel_recorder.draw(bpy, addon.panels.palette.ATELIER_PT_palette)
    assert "colour 2 of palette" in " ".join(panel_recorder.labels(calls))
    fields = [args[0] for name, args, _ in calls if name == "prop" and args[1] == "color"]
    assert fields == list(palette.colors)


def test_what_is_linked_from_a_library_is_left_alone_and_named(bpy_module, addon, palette, tmp_path):
    """Blender would take the new colours in memory and lose them on saving: a linked material,
    light and world are left as they are and the report says how to recolour them."""
    bpy = bpy_module
    material, light, world = (bpy.data.materials.new("Lent"), bpy.data.lights.new("Lamp", "POINT"),
                              bpy.data.worlds.new("Sky"))
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    bpy.data.libraries.write(str(tmp_path / "lib.blend"), {material, light, world})
    bpy.data.materials.remove(material)
    bpy.data.lights.remove(light)
    bpy.data.worlds.remove(world)
    with bpy.data.libraries.load(str(tmp_path / "lib.blend"), link=True) as (_source, found):
        found.materials, found.lights, found.worlds = ["Lent"], ["Lamp"], ["Sky"]
    bpy.ops.mesh.primitive_cube_add()
    bpy.context.active_object.data.materials.append(found.materials[0])
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("Lamp", found.lights[0]))
    bpy.context.scene.world = found.worlds[0]
    base = found.materials[0].node_tree.nodes["Principled BSDF"].inputs["Base Color"]
    before = (tuple(base.default_value), tuple(found.lights[0].color), tuple(found.worlds[0].color))
    report = addon.apply.palette.apply_palette(bpy.context, palette, scope="SCENE", include_world=True,
                                               include_lights=True)
    after = (tuple(base.default_value), tuple(found.lights[0].color), tuple(found.worlds[0].color))
    assert after == before and report.recoloured == [] and report.lights == []
    summary = report.summary()
    assert "left linked from a library (make them local to recolour) Lent, Lamp" in summary, summary
    assert "world Sky left alone (linked from a library; make it local to recolour)" in summary


def test_a_blend_relative_path_waits_for_the_blend_to_be_saved(bpy_module, palette, tmp_path, monkeypatch):
    bpy = bpy_module
    monkeypatch.chdir(tmp_path)  # where '//' would land with no .blend folder
    assert bpy.data.filepath == ""
    refused(lambda: bpy.ops.atelier.export_palette(filepath="//colours.gpl"),
            r"'//colours.gpl' is relative to the .blend file, which is not saved yet; save the .blend")
    assert list(tmp_path.iterdir()) == []
    saved = tmp_path / "saved"
    saved.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(saved / "scene.blend"))
    assert bpy.ops.atelier.export_palette(filepath="//colours.gpl") == {"FINISHED"}
    assert (saved / "colours.gpl").read_text().startswith("GIMP Palette\n")


@pytest.mark.parametrize("where, match", [
    ("", r"no file given; set filepath to the .gpl file to write"),
    (".", r"is a folder; name a file in it, e.g. .*colours.gpl"),
    ("missing/colours.gpl", r"No such file or directory; create the folder .*missing or choose another"),
])
def test_a_path_that_names_no_writable_file_says_what_to_change(bpy_module, palette, tmp_path, where, match):
    filepath = str(tmp_path / where) if where else ""
    message = refused(lambda: bpy_module.ops.atelier.export_palette(filepath=filepath), match)
    assert "Errno" not in message
    assert list(tmp_path.iterdir()) == []
