"""Palettes in real Blender: creation, colour spaces, the role mapping, shared and textured
materials, world and lights, undo, save/reload and .gpl export (no backend needed)."""

import pytest

SCHEME = {
    "title": "Rainy neon alley",
    "colors": [
        {"hex": "#1b1f3a", "name": "Wet asphalt", "role": "background"},
        {"hex": "#ff2e88", "name": "Neon pink", "role": "primary"},
        {"hex": "#19d3c5", "name": "Cyan sign", "role": "accent"},
        {"hex": "#6b5b95", "name": "Dusk violet", "role": "secondary"},
        {"hex": "#f5f0e1", "name": "Street lamp", "role": "highlight"},
        {"hex": "#0b0c10", "name": "Deep shadow", "role": "shadow"},
    ],
}


def _cube(bpy, name, size, material=None, location=(0, 0, 0)):
    bpy.ops.mesh.primitive_cube_add(size=size, location=location)
    obj = bpy.context.active_object
    obj.name = name
    if material is not None:
        obj.data.materials.append(material)
    return obj


def _material(bpy, name, emission=0.0):
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    bsdf = material.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (0.5, 0.5, 0.5, 1.0)
    bsdf.inputs["Emission Strength"].default_value = emission
    bsdf.inputs["Emission Color"].default_value = (0.0, 0.0, 0.0, 1.0)
    return material


def _base(material):
    return tuple(material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value)[:3]


def _emission(material):
    return tuple(material.node_tree.nodes["Principled BSDF"].inputs["Emission Color"].default_value)[:3]


def _linear(hex_value):
    import mathutils

    display = [int(hex_value[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return tuple(mathutils.Color(display).from_srgb_to_scene_linear())


def _select(bpy, *objects):
    for obj in bpy.context.scene.objects:
        obj.select_set(obj in objects)
    bpy.context.view_layer.objects.active = objects[0] if objects else None


@pytest.fixture
def palette(addon, clean_scene):
    return addon.apply.palette.create_palette(clean_scene, SCHEME, source="PROMPT", provenance="{}")


def test_palette_is_created_with_names_and_roles(bpy_module, addon, clean_scene, palette):
    assert palette.name == "Rainy neon alley"
    assert len(palette.colors) == 6
    info = clean_scene.atelier.palettes[palette.name]
    assert [c.label for c in info.colors] == [c["name"] for c in SCHEME["colors"]]
    assert [c.role for c in info.colors] == [c["role"] for c in SCHEME["colors"]]
    assert [addon.apply.palette.palette_color_hex(c) for c in palette.colors] == [
        c["hex"] for c in SCHEME["colors"]]


def test_palette_color_storage_follows_the_blender_version(bpy_module, addon, palette):
    """5.0 stores scene-linear (subtype COLOR), 4.2 display (COLOR_GAMMA); both round-trip."""
    subtype = bpy_module.types.PaletteColor.bl_rna.properties["color"].subtype
    stored = tuple(palette.colors[1].color)
    if subtype == "COLOR":
        assert stored == pytest.approx(_linear("#ff2e88"), abs=1e-5)
    else:
        assert stored == pytest.approx((1.0, 0x2e / 255, 0x88 / 255), abs=1e-5)


def test_srgb_linear_round_trip_is_exact_for_every_8_bit_level(addon, clean_scene):
    levels = [f"#{v:02x}{(255 - v):02x}{(v * 7) % 256:02x}" for v in range(256)]
    scheme = {"title": "Ramp", "colors": [{"hex": h, "name": "", "role": "secondary"} for h in levels]}
    made = addon.apply.palette.create_palette(clean_scene, scheme, source="IMAGE")
    assert [addon.apply.palette.palette_color_hex(c) for c in made.colors] == levels
    for h in levels[::17]:
        swatch = addon.apply.palette.Swatch(h)
        assert addon.apply.palette.to_hex(addon.apply.palette.linear_to_display(swatch.linear)) == h


def test_largest_surface_gets_primary_then_secondary_then_accent(bpy_module, addon, clean_scene, palette):
    bpy = bpy_module
    big, middle, small = (_material(bpy, n) for n in ("Big", "Middle", "Small"))
    objects = [_cube(bpy, "Small", 1.0, small, (0, 0, 0)), _cube(bpy, "Big", 4.0, big, (5, 0, 0)),
               _cube(bpy, "Middle", 2.0, middle, (10, 0, 0))]
    _select(bpy, *objects)
    report = addon.apply.palette.apply_palette(bpy.context, palette)
    assert _base(big) == pytest.approx(_linear("#ff2e88"), abs=1e-5)  # primary
    assert _base(middle) == pytest.approx(_linear("#6b5b95"), abs=1e-5)  # secondary
    assert _base(small) == pytest.approx(_linear("#19d3c5"), abs=1e-5)  # accent
    assert [name for name, _ in report.recoloured] == ["Big", "Middle", "Small"]
    assert tuple(big.diffuse_color)[:3] == pytest.approx(_linear("#ff2e88"), abs=1e-5)


def test_equal_areas_rank_by_material_name_whatever_the_selection(bpy_module, addon, clean_scene, palette):
    bpy = bpy_module
    beta, alpha = _material(bpy, "Beta"), _material(bpy, "Alpha")
    first = _cube(bpy, "A first", 2.0, beta)
    second = _cube(bpy, "B second", 2.0, alpha, (5, 0, 0))
    for order in ((first, second), (second, first)):
        _select(bpy, *order)
        report = addon.apply.palette.apply_palette(bpy.context, palette)
        mapped = [(name, s.role) for name, s in report.recoloured]
        assert mapped == [("Alpha", "primary"), ("Beta", "secondary")]


def test_the_tooltip_states_the_mapping(bpy_module, addon):
    tooltip = bpy_module.ops.atelier.apply_palette.get_rna_type().description
    for words in ("largest surface", "primary", "secondary, accent", "without roles", "Texture-driven",
                  "copied or skipped", "one undo step"):
        assert words in tooltip


def test_area_counts_object_scale_and_per_face_materials(bpy_module, addon, clean_scene, palette):
    bpy = bpy_module
    top, rest = _material(bpy, "Top"), _material(bpy, "Rest")
    cube = _cube(bpy, "Cube", 1.0, rest)
    cube.data.materials.append(top)
    cube.data.polygons[0].material_index = 1  # one face of six
    scaled = _cube(bpy, "Scaled", 1.0, top, (4, 0, 0))
    scaled.scale = (3, 3, 3)  # 9x the area: Top now covers more than Rest
    bpy.context.view_layer.update()
    areas = addon.apply.palette.material_areas([cube, scaled])
    assert areas[rest] == pytest.approx(5.0)
    assert areas[top] == pytest.approx(1.0 + 54.0)


def test_curves_and_text_count_by_the_surface_they_show(bpy_module, addon, clean_scene, palette):
    bpy = bpy_module
    lettering, tube = _material(bpy, "Lettering"), _material(bpy, "Tube")
    bpy.ops.object.text_add()
    text = bpy.context.active_object
    text.data.body = "NEON"
    text.data.materials.append(lettering)
    bpy.ops.curve.primitive_bezier_circle_add(location=(6, 0, 0))
    circle = bpy.context.active_object
    circle.data.bevel_depth = 0.1  # a tube: now it has a surface
    circle.data.materials.append(tube)
    bpy.context.view_layer.update()
    areas = addon.apply.palette.material_areas([text, circle])
    assert areas[lettering] > 0.1 and areas[tube] > 0.1
    _select(bpy, text, circle)
    report = addon.apply.palette.apply_palette(bpy.context, palette)
    assert {name for name, _ in report.recoloured} == {"Lettering", "Tube"}
    assert _base(lettering) != (0.5, 0.5, 0.5) and _base(tube) != (0.5, 0.5, 0.5)


def test_a_palette_without_roles_maps_by_order(bpy_module, addon, clean_scene):
    bpy = bpy_module
    plain = bpy.data.palettes.new("Plain")
    for h in ("#ff0000", "#00ff00", "#0000ff"):
        addon.apply.palette.set_palette_color(plain.colors.new(), addon.apply.palette.Swatch(h).display)
    big, small = _material(bpy, "Big"), _material(bpy, "Small")
    objects = [_cube(bpy, "Big", 3.0, big), _cube(bpy, "Small", 1.0, small, (5, 0, 0))]
    _select(bpy, *objects)
    addon.apply.palette.apply_palette(bpy.context, plain)
    assert _base(big) == pytest.approx(_linear("#ff0000"), abs=1e-5)
    assert _base(small) == pytest.approx(_linear("#00ff00"), abs=1e-5)


def test_shared_material_is_copied_or_skipped(bpy_module, addon, clean_scene, palette):
    bpy = bpy_module
    shared = _material(bpy, "Shared")
    inside = _cube(bpy, "Inside", 2.0, shared)
    outside = _cube(bpy, "Outside", 2.0, shared, (5, 0, 0))
    _select(bpy, inside)
    report = addon.apply.palette.apply_palette(bpy.context, palette, shared="SKIP")
    assert report.shared_skipped == ["Shared"] and _base(shared) == pytest.approx((0.5, 0.5, 0.5))
    assert inside.material_slots[0].material == shared

    report = addon.apply.palette.apply_palette(bpy.context, palette, shared="COPY")
    copy = inside.material_slots[0].material
    assert copy != shared and report.copied == [("Shared", copy.name)]
    assert _base(copy) == pytest.approx(_linear("#ff2e88"), abs=1e-5)
    assert _base(shared) == pytest.approx((0.5, 0.5, 0.5))  # never changed behind the user's back
    assert outside.material_slots[0].material == shared


def test_shared_mesh_data_gets_an_object_level_copy(bpy_module, addon, clean_scene, palette):
    bpy = bpy_module
    shared = _material(bpy, "Shared")
    inside = _cube(bpy, "Inside", 2.0, shared)
    twin = bpy.data.objects.new("Twin", inside.data)  # same mesh, outside the selection
    bpy.context.scene.collection.objects.link(twin)
    _select(bpy, inside)
    addon.apply.palette.apply_palette(bpy.context, palette, shared="COPY")
    assert inside.material_slots[0].link == "OBJECT"
    assert inside.material_slots[0].material != shared
    assert twin.material_slots[0].material == shared and _base(shared) == pytest.approx((0.5, 0.5, 0.5))


def test_texture_driven_base_color_is_left_alone_and_named(bpy_module, addon, clean_scene, palette):
    bpy = bpy_module
    textured = _material(bpy, "Bricks")
    tex = textured.node_tree.nodes.new("ShaderNodeTexImage")
    textured.node_tree.links.new(tex.outputs["Color"],
                                 textured.node_tree.nodes["Principled BSDF"].inputs["Base Color"])
    plain = _material(bpy, "Plain")
    objects = [_cube(bpy, "Wall", 4.0, textured), _cube(bpy, "Box", 1.0, plain, (5, 0, 0))]
    _cube(bpy, "Other wall", 1.0, textured, (9, 0, 0))  # shared, outside the selection
    _select(bpy, *objects)
    report = addon.apply.palette.apply_palette(bpy.context, palette)
    assert report.textured == ["Bricks"] and report.copied == []  # nothing to copy it for
    assert sorted(m.name for m in bpy.data.materials) == ["Bricks", "Plain"]
    assert _base(textured) == pytest.approx((0.5, 0.5, 0.5))
    # The textured material keeps its rank: the plain one gets the second colour (secondary).
    assert _base(plain) == pytest.approx(_linear("#6b5b95"), abs=1e-5)
    assert "left texture-driven Bricks" in report.summary()


def test_emission_is_recoloured_only_where_used(bpy_module, addon, clean_scene, palette):
    bpy = bpy_module
    glowing, dull = _material(bpy, "Glow", emission=5.0), _material(bpy, "Dull")
    objects = [_cube(bpy, "Sign", 3.0, glowing), _cube(bpy, "Box", 1.0, dull, (5, 0, 0))]
    _select(bpy, *objects)
    addon.apply.palette.apply_palette(bpy.context, palette)
    assert _emission(glowing) == pytest.approx(_linear("#ff2e88"), abs=1e-5)
    assert _emission(dull) == pytest.approx((0.0, 0.0, 0.0))


def test_world_and_lights_when_asked(bpy_module, addon, clean_scene, palette):
    bpy = bpy_module
    _cube(bpy, "Box", 1.0, _material(bpy, "Box"))
    light_data = bpy.data.lights.new("Lamp", "POINT")
    lamp = bpy.data.objects.new("Lamp", light_data)
    bpy.context.scene.collection.objects.link(lamp)
    before = tuple(light_data.color)
    addon.apply.palette.apply_palette(bpy.context, palette, scope="SCENE")
    assert tuple(light_data.color) == before and bpy.context.scene.world is None

    report = addon.apply.palette.apply_palette(bpy.context, palette, scope="SCENE", include_world=True,
                                               include_lights=True)
    assert tuple(light_data.color) == pytest.approx(_linear("#f5f0e1"), abs=1e-5)  # highlight
    background = bpy.context.scene.world.node_tree.nodes["Background"].inputs["Color"].default_value
    assert tuple(background)[:3] == pytest.approx(_linear("#1b1f3a"), abs=1e-5)  # background
    assert report.lights == [("Lamp", "#f5f0e1")] and report.world == "#1b1f3a"


@pytest.mark.parametrize("shared", ["COPY", "SKIP"])
def test_light_data_shared_outside_the_scope(bpy_module, addon, clean_scene, palette, shared):
    bpy = bpy_module
    data = bpy.data.lights.new("Shared lamp", "SPOT")
    inside, outside = (bpy.data.objects.new(n, data) for n in ("Inside", "Outside"))
    for obj in (inside, outside):
        bpy.context.scene.collection.objects.link(obj)
    _select(bpy, inside)
    before = tuple(data.color)
    report = addon.apply.palette.apply_palette(bpy.context, palette, include_lights=True, shared=shared)
    assert tuple(data.color) == before and outside.data == data
    if shared == "COPY":
        assert inside.data != data
        assert tuple(inside.data.color) == pytest.approx(_linear("#f5f0e1"), abs=1e-5)
        assert report.lights == [("Inside", "#f5f0e1")]
    else:
        assert inside.data == data and report.shared_skipped == ["Shared lamp"] and report.lights == []


@pytest.mark.parametrize("shared", ["COPY", "SKIP"])
def test_world_shared_with_another_scene(bpy_module, addon, clean_scene, palette, shared):
    bpy = bpy_module
    world = bpy.data.worlds.new("Sky")
    other = bpy.data.scenes.new("Other")
    clean_scene.world = other.world = world
    before = tuple(world.color)
    report = addon.apply.palette.apply_palette(bpy.context, palette, scope="SCENE", include_world=True,
                                               shared=shared)
    assert other.world == world and tuple(world.color) == before
    if shared == "COPY":
        assert clean_scene.world != world and report.copied == [("Sky", clean_scene.world.name)]
        assert tuple(clean_scene.world.color) == pytest.approx(_linear("#1b1f3a"), abs=1e-5)
    else:
        assert clean_scene.world == world and "world Sky left alone (shared" in report.summary()


def test_apply_operator_is_one_undo_step(bpy_module, addon, clean_scene, palette):
    bpy = bpy_module
    material = _material(bpy, "Box")
    _cube(bpy, "Box", 1.0, material)
    bpy.ops.ed.undo_push(message="init")
    result = bpy.ops.atelier.apply_palette("EXEC_DEFAULT", True, palette=palette.name, include_world=True)
    assert result == {"FINISHED"}
    material = bpy.data.materials["Box"]
    assert _base(material) == pytest.approx(_linear("#ff2e88"), abs=1e-5)
    assert bpy.context.scene.world is not None
    bpy.ops.ed.undo()
    assert _base(bpy.data.materials["Box"]) == pytest.approx((0.5, 0.5, 0.5))
    assert bpy.context.scene.world is None


@pytest.mark.parametrize("kwargs, message", [
    ({"palette": "No such palette"}, "no palette named"),
    ({"palette": ""}, "no palette chosen"),
    ({"palette": "Empty"}, "has no colours"),
    ({"scope": "SELECTED"}, "nothing to recolour"),
])
def test_apply_refusals_leave_the_scene_unchanged(bpy_module, addon, clean_scene, palette, kwargs, message):
    bpy = bpy_module
    bpy.data.palettes.new("Empty")
    material = _material(bpy, "Box")
    box = _cube(bpy, "Box", 1.0, material)
    _select(bpy, *([] if kwargs.get("scope") == "SELECTED" else [box]))
    kwargs.setdefault("palette", palette.name)
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.atelier.apply_palette(**kwargs)
    assert _base(material) == pytest.approx((0.5, 0.5, 0.5))
    assert [m.name for m in bpy.data.materials] == ["Box"] and bpy.context.scene.world is None


@pytest.mark.parametrize("palette_name, where, message", [
    ("No such palette", "out.gpl", "no palette named"),
    ("Rainy neon alley", "missing-folder/out.gpl", "No such file or directory"),
])
def test_gpl_export_refusals(bpy_module, addon, clean_scene, palette, tmp_path, palette_name, where, message):
    with pytest.raises(RuntimeError, match=message):
        bpy_module.ops.atelier.export_palette(filepath=str(tmp_path / where), palette=palette_name)
    assert list(tmp_path.iterdir()) == []


def test_gpl_export(bpy_module, addon, clean_scene, palette, tmp_path):
    target = tmp_path / "alley.gpl"
    assert bpy_module.ops.atelier.export_palette(filepath=str(target), palette=palette.name) == {"FINISHED"}
    lines = target.read_text().splitlines()
    assert lines[:2] == ["GIMP Palette", "Name: Rainy neon alley"]
    assert lines[4] == " 27  31  58\tWet asphalt (background)"
    assert lines[5] == "255  46 136\tNeon pink (primary)"
    assert len(lines) == 4 + 6


def test_names_and_roles_survive_save_and_reload(bpy_module, addon, clean_scene, palette, tmp_path):
    bpy = bpy_module
    path = tmp_path / "scheme.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    scene = bpy.context.scene
    reloaded = bpy.data.palettes["Rainy neon alley"]
    info = scene.atelier.palettes["Rainy neon alley"]
    assert [c.role for c in info.colors] == [c["role"] for c in SCHEME["colors"]]
    assert [addon.apply.palette.palette_color_hex(c) for c in reloaded.colors] == [
        c["hex"] for c in SCHEME["colors"]]


@pytest.mark.parametrize("data, message", [
    ({"title": "x", "colors": []}, "no colours"),
    ({"title": "x", "colors": [{"hex": "red", "name": "r", "role": "primary"}]}, "#rrggbb"),
    ({"title": "x", "colors": [{"hex": "#ff0000", "name": "r", "role": "villain"}]}, "unknown role"),
    ("not a scheme", "no colours"),
])
def test_malformed_schemes_create_nothing(bpy_module, addon, clean_scene, data, message):
    with pytest.raises(addon.apply.palette.PaletteError, match=message):
        addon.apply.palette.create_palette(clean_scene, data, source="PROMPT")
    assert len(bpy_module.data.palettes) == 0 and len(clean_scene.atelier.palettes) == 0
