"""``atelier.generate_palette`` from a prompt (the tiny text model in the backend) with its backend
SIGKILLed at drawn points (``killed_jobs``; the job writes no file, so no ``write``): no palette
is made, the error says the backend stopped and what to do; killed after its result, the whole
palette is made. The next palette works and the dead backend was reaped."""

from __future__ import annotations

import pytest
from killed_jobs import SEED, check_reaped, draw, killed_blocking

COUNT = 3  # colours: progress goes one step per colour written
PALETTE = dict(source="PROMPT", prompt="rainy neon alley", count=COUNT, seed=2)
POINTS = draw("generate_palette", steps=COUNT, files=0, points=("load", "step", "result"), count=2)


@pytest.mark.parametrize("point", POINTS, ids=[f"seed{SEED}-{p}" for p in POINTS])
def test_palette_killed(bpy_module, addon, clean_scene, fault_armed_backend, tiny_text_model, monkeypatch,
                        tmp_path, point):
    bpy = bpy_module
    monkeypatch.setenv("ATELIER_TEXT_MODEL", str(tiny_text_model))
    outcome, case, pid = killed_blocking(bpy, addon, fault_armed_backend, monkeypatch, tmp_path, point,
                                         lambda: bpy.ops.atelier.generate_palette(**PALETTE))
    made = 1 if point == "result" else 0  # a result sent before the kill is applied
    assert len(bpy.data.palettes) == len(clean_scene.atelier.palettes) == made, case
    if made:  # whole: every colour the job made
        assert len(bpy.data.palettes[0].colors) == COUNT, case
    assert bpy.ops.atelier.generate_palette(**PALETTE) == {"FINISHED"}, case
    assert len(bpy.data.palettes) == made + 1, case
    check_reaped(pid)
