"""``atelier.generate_texture`` with its backend SIGKILLed at a drawn point of the job (``killed_jobs``):
while the model loads, after a denoising step, with half its picture written, and after its
result was sent but before Blender applied it (the backend dies right after its result line:
the whole result is applied, nothing is lost, and the next job starts a fresh backend and
reaps the dead one). Blocking (background mode) and on the UI's
modal path; the error comes within 2 s of the kill, the next job works."""

from __future__ import annotations

import pytest
from blend_jobs import operator_probe, start, tick
from blender_helpers import mesh_object
from killed_jobs import SEED, check_reaped, draw, killed_blocking, killed_modal

STEPS = 4
TEXTURE = dict(prompt="rusty iron", width=64, height=64, steps=STEPS, seed=5, maps=set())
POINTS = draw("generate_texture", steps=STEPS, files=1, points=("load", "result"))
MODAL_POINTS = draw("generate_texture modal", steps=STEPS, files=1, points=("step", "write"))


def ids(points):
    return [f"seed{SEED}-{point}" for point in points]


@pytest.mark.parametrize("point", POINTS, ids=ids(POINTS))
def test_blocking_texture_killed(bpy_module, addon, clean_scene, fault_armed_backend, monkeypatch, tmp_path,
                                 point):
    bpy = bpy_module
    mesh_object(bpy)
    outcome, case, pid = killed_blocking(bpy, addon, fault_armed_backend, monkeypatch, tmp_path, point,
                                         lambda: bpy.ops.atelier.generate_texture(**TEXTURE))
    made = 1 if point == "result" else 0  # the whole result had come: it is applied
    assert len(bpy.data.materials) == len(bpy.data.images) == made, case
    if made:
        assert complete_texture(bpy.data.materials[0]), case
    assert bpy.ops.atelier.generate_texture(**TEXTURE) == {"FINISHED"}, case
    assert len(bpy.data.materials) == made + 1, case
    check_reaped(pid)


def complete_texture(material) -> bool:
    """The material's image texture node holds the whole picture the job made."""
    images = [node.image for node in material.node_tree.nodes if node.type == "TEX_IMAGE"]
    return len(images) == 1 and tuple(images[0].size) == (TEXTURE["width"], TEXTURE["height"]) \
        and images[0].has_data


@pytest.mark.parametrize("point", MODAL_POINTS, ids=ids(MODAL_POINTS))
def test_modal_texture_killed(bpy_module, addon, clean_scene, fault_armed_backend, monkeypatch, tmp_path,
                              point):
    bpy = bpy_module
    mesh_object(bpy)
    operator = addon.operators.texture.ATELIER_OT_generate_texture
    outcome, case, pid = killed_modal(bpy, addon, fault_armed_backend, monkeypatch, tmp_path, point,
                                      operator_probe(bpy, operator, **TEXTURE))
    assert outcome == {"CANCELLED"}, case
    probe = operator_probe(bpy, operator, **TEXTURE)
    start(probe, bpy.context)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    assert len(bpy.data.materials) == 1, case
    check_reaped(pid)
