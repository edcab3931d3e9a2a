"""A missing model's error names it and suggests a model of the kind the task needs."""

from __future__ import annotations

import pytest

from core.families import DEFAULT_TEXT_MODEL
from core.families import DEFAULT_TEXTURE_MODEL as DEFAULT_MODEL

MISSING = "/no/such/model-folder"


def test_missing_texture_model_suggests_a_texture_model(backend, texture_request):
    final = backend.request(texture_request(model=MISSING))
    assert final["type"] == "error" and final["code"] == "model_missing", final
    assert MISSING in final["message"]
    assert DEFAULT_MODEL in final["hint"] and DEFAULT_TEXT_MODEL not in final["hint"]


@pytest.mark.parametrize("message", [
    {"type": "ideas", "id": "hint-ideas", "prompt": "a cozy cabin", "model": MISSING},
    {"type": "palette", "id": "hint-palette", "source": "prompt", "prompt": "a sunset", "model": MISSING},
], ids=["ideas", "palette"])
def test_missing_text_model_suggests_a_text_model(backend, message):
    final = backend.request(message)
    assert final["type"] == "error" and final["code"] == "model_missing", final
    assert MISSING in final["message"]
    assert DEFAULT_TEXT_MODEL in final["hint"] and DEFAULT_MODEL not in final["hint"]



def test_hints_for_a_marigold_part_give_that_part_as_the_example():
    """A maps part missing from the hub (withdrawn, renamed) is never answered with a texture model."""
    from backend.models import example_model
    from core.maps_models import MARIGOLD_PARTS

    for part in MARIGOLD_PARTS:
        assert example_model(f"maps-{part.folder}") == part.hub_id
