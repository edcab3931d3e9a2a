"""Provenance records read back from a .blend, which may come from anyone: whatever a record
holds, the panels draw and say what they know, and never raise."""

import panel_recorder
import pytest

DEEP = "[" * 100_000 + "]" * 100_000
RECORDS = [
    ("nested 100,000 levels deep", '{"engine": ' + DEEP + "}", "Made by unknown"),
    ("nested 20 levels deep", '{"engine": "m", "x": ' + "[" * 20 + "]" * 20 + "}", "Made by unknown"),
    ("a seed of 400 digits", '{"engine": "m", "parameters": {"seed": 1' + "0" * 400 + "}}", "Made by m"),
    ("a seed of 5000 digits", '{"engine": "m", "parameters": {"seed": 1' + "0" * 5000 + "}}", "Made by m"),
    ("a plain record", '{"engine": "m", "parameters": {"seed": 7}}', "Made by m, seed 7"),
]


@pytest.mark.parametrize("what, record, says", RECORDS, ids=[case[0] for case in RECORDS])
def test_the_palette_panel_tells_what_a_stored_record_says(addon, bpy_module, clean_scene, what, record,
                                                           says):
    scheme = {"title": "Dusk", "colors": [{"hex": "#224466"}]}
    palette = addon.apply.palette.create_palette(clean_scene, scheme, source="PROMPT", provenance=record)
    clean_scene.atelier.palette.palette = palette
    shown = panel_recorder.labels(panel_recorder.draw(bpy_module, addon.panels.palette.ATELIER_PT_palette))
    assert says in shown
