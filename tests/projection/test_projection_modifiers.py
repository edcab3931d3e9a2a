"""Meshes are painted as they render: modifiers at their render settings while the projection
reads them, the artist's viewport settings exactly as they were afterwards."""

import numpy as np
import pytest
from projection_helpers import module


def _cube_with_render_only_modifiers(bpy):
    """A cube subdivided once in the viewport and twice in renders, pushed out by a displace
    modifier that only renders."""
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_cube_add(size=2.0, calc_uvs=True)
    cube = bpy.context.active_object
    subdivision = cube.modifiers.new("Subdivision", "SUBSURF")
    subdivision.levels, subdivision.render_levels = 1, 2
    displace = cube.modifiers.new("Displace", "DISPLACE")
    displace.strength, displace.show_viewport, displace.show_render = 1.0, False, True
    return cube


def _settings(cube) -> list:
    return [(m.name, m.show_viewport, m.show_render, getattr(m, "levels", None)) for m in cube.modifiers]


def _viewport_triangles(bpy, cube) -> int:
    evaluated = cube.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    mesh.calc_loop_triangles()
    count = len(mesh.loop_triangles)
    evaluated.to_mesh_clear()
    return count


def test_the_mesh_is_read_as_rendered_and_the_viewport_kept(bpy_module, addon, tmp_path):
    bpy = bpy_module
    cube = _cube_with_render_only_modifiers(bpy)
    before = _settings(cube)
    assert _viewport_triangles(bpy, cube) == 6 * 4 * 2
    run = module(addon, "apply.projection_run").ProjectionRun(
        bpy.context, [cube], name="Rendered", views=2, view_size=64, texture_size=64,
        uv_maps={cube.name: "UVMap"}, work_dir=tmp_path / "work")
    mesh = run._meshes[0]
    assert len(mesh.corners) == 6 * 16 * 2  # two render levels of subdivision
    # The displace modifier (render only) pushed the surface out by strength * (1 - midlevel).
    assert np.abs(mesh.corners).max() > 1.2
    assert _settings(cube) == before
    assert _viewport_triangles(bpy, cube) == 6 * 4 * 2  # the viewport shows what it showed
    run.discard()


def test_the_settings_come_back_when_reading_fails(bpy_module, addon, tmp_path):
    bpy = bpy_module
    cube = _cube_with_render_only_modifiers(bpy)
    before = _settings(cube)
    with pytest.raises(ValueError, match="no UV map 'Missing'"):
        module(addon, "apply.projection_run").ProjectionRun(
            bpy.context, [cube], name="Rendered", views=2, view_size=64, texture_size=64,
            uv_maps={cube.name: "Missing"}, work_dir=tmp_path / "work")
    assert _settings(cube) == before
