"""``atelier.project_texture`` (three views, a tiny depth ControlNet) with its backend SIGKILLed
(``killed_jobs``): mid-chain, on the UI's modal path while view 2's picture is written and
blocking while a drawn later view's picture is written: the run's cameras, hidden views
collection, view pictures, new UV map and work files all go, and the next projection works.
Killed after view 1's result (the backend dies right after it), nothing is lost: view 1's
answer stands, the next view, which the dead backend never read, goes to a fresh backend, and
the projection finishes."""

from __future__ import annotations

import pytest
from blend_jobs import operator_probe, start, tick
from blender_helpers import mesh_object
from killed_jobs import SEED, check_reaped, draw, killed_blocking, killed_modal

VIEWS = 3


@pytest.fixture
def projection(bpy_module, clean_scene, tiny_controlnet, quick_style):
    """A cube without a UV map (the run adds one), and the projection's arguments."""
    mesh_object(bpy_module, uvs=False)
    return dict(prompt="granite", views=VIEWS, view_size=64, texture_size=64, seed=3, maps=set(),
                style=quick_style, control_model=str(tiny_controlnet))


def projected(bpy) -> bool:
    """The cube wears a projected material on a new UV map."""
    cube = bpy.data.objects["Cube"]
    return cube.active_material is not None and len(cube.data.uv_layers) == 1


def test_modal_projection_killed_in_view_2(bpy_module, addon, fault_armed_backend, monkeypatch, tmp_path,
                                           projection):
    bpy = bpy_module
    operator = addon.operators.project.ATELIER_OT_project_texture
    point = "write:2"  # each view writes one picture: half of view 2's is on disk
    probe = operator_probe(bpy, operator, **projection)
    outcome, case, pid = killed_modal(bpy, addon, fault_armed_backend, monkeypatch, tmp_path, point, probe)
    assert outcome == {"CANCELLED"} and probe._job.label == "projection 'granite' view 2", case
    assert not projected(bpy), case
    probe = operator_probe(bpy, operator, **projection)
    start(probe, bpy.context)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    assert projected(bpy), case
    check_reaped(pid)


# A later view's picture half written (each view writes one), and after view 1's result.
BLOCKING_POINTS = [*draw("project_texture", steps=2, files=VIEWS, points=("write",), first_file=2), "result"]


@pytest.mark.parametrize("point", BLOCKING_POINTS, ids=[f"seed{SEED}-{p}" for p in BLOCKING_POINTS])
def test_blocking_projection_killed(bpy_module, addon, fault_armed_backend, monkeypatch, tmp_path,
                                    projection, point):
    bpy = bpy_module
    outcome, case, pid = killed_blocking(bpy, addon, fault_armed_backend, monkeypatch, tmp_path, point,
                                         lambda: bpy.ops.atelier.project_texture(**projection))
    if point == "result":  # view 2 went to the fresh backend, which replaced (and reaped) the dead one
        assert projected(bpy), case
        check_reaped(pid)
        return
    assert not projected(bpy), case
    assert bpy.ops.atelier.project_texture(**projection) == {"FINISHED"}, case
    assert projected(bpy), case
    check_reaped(pid)
