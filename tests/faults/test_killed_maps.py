"""``atelier.derive_maps`` with the Marigold maps model (tiny), its backend SIGKILLed at a
drawn point of the job (``killed_jobs``): blocking and on the UI's modal path. Killed after
its result, every map is made; killed before, the material keeps its own nodes, the picture's
copy for the backend goes. The next job works and the dead backend was reaped."""

from __future__ import annotations

import pytest
from blend_jobs import operator_probe, picture_scene, start, tick
from killed_jobs import SEED, check_reaped, draw, killed_blocking, killed_modal

ROLES = {"NORMAL", "ROUGHNESS", "HEIGHT"}  # three files written: write:N has three places to fall
CASES = list(zip(("blocking", "modal"), draw("derive_maps", steps=2, files=len(ROLES), count=2), strict=True))


def maps_of(bpy) -> set[str]:
    return {image.name for image in bpy.data.images} - {"Picture"}


@pytest.mark.parametrize(("path", "point"), CASES, ids=[f"{p}-seed{SEED}-{point}" for p, point in CASES])
def test_maps_killed(bpy_module, addon, clean_scene, fault_armed_backend, tiny_marigold, monkeypatch,
                     tmp_path, path, point):
    bpy = bpy_module
    picture_scene(bpy)
    arguments = dict(material="Picture", maps=ROLES, maps_model=str(tiny_marigold))
    operator = addon.operators.maps.ATELIER_OT_derive_maps
    if path == "blocking":
        outcome, case, pid = killed_blocking(bpy, addon, fault_armed_backend, monkeypatch, tmp_path, point,
                                        lambda: bpy.ops.atelier.derive_maps(**arguments))
    else:
        outcome, case, pid = killed_modal(bpy, addon, fault_armed_backend, monkeypatch, tmp_path, point,
                                     operator_probe(bpy, operator, **arguments))
    case = f"{path}, {case}"
    made = maps_of(bpy)
    if point == "result":  # the whole result had come: every map is applied, in the material
        assert len(made) == len(ROLES) and made <= material_images(bpy), case
    else:
        assert not made, case
    probe = operator_probe(bpy, operator, **arguments)
    start(probe, bpy.context)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    assert len(maps_of(bpy)) == len(made) + len(ROLES), case
    check_reaped(pid)


def material_images(bpy) -> set[str]:
    """The images the picture's material uses."""
    nodes = bpy.data.materials["Picture"].node_tree.nodes
    return {node.image.name for node in nodes if node.type == "TEX_IMAGE" and node.image is not None}
