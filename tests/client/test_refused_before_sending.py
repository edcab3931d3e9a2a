"""Requests the backend would refuse are refused in Blender first, with the same limit and a
message that says the fix; nothing reaches the backend (the stand-in, ``conftest.py``, lists
what it was sent)."""

import pytest
from scene_state import scene_state


def _sent(folder) -> list[str]:
    seen = folder / "requests.txt"
    return seen.read_text().split() if seen.exists() else []


@pytest.mark.parametrize("source, model", [("PROMPT", "standin"), ("PROMPT_IMAGE", "standin"),
                                           ("PROMPT", "builtin")])
def test_a_palette_prompt_is_capped_like_an_idea_prompt(addon, bpy_module, standin, monkeypatch,
                                                        source, model):
    # A prompt that got through would wait on the stand-in, which never answers palettes: end
    # that wait soon, so a regression fails instead of hanging.
    monkeypatch.setattr(addon.client.session, "SILENCE_SECONDS", 10.0)
    folder = standin()
    limit = addon.core.limits.MAX_PROMPT_CHARS
    before = scene_state(bpy_module)
    with pytest.raises(RuntimeError, match=f"the prompt has {limit + 1} characters; shorten it to {limit}"):
        bpy_module.ops.atelier.generate_palette(source=source, prompt="n" * (limit + 1), model=model)
    assert _sent(folder) == []
    assert scene_state(bpy_module) == before
    assert not bpy_module.data.palettes


def test_a_palette_prompt_at_the_limit_is_sent(addon, bpy_module, standin, monkeypatch):
    monkeypatch.setattr(addon.client.session, "SILENCE_SECONDS", 1.0)  # the stand-in never answers
    folder = standin()
    limit = addon.core.limits.MAX_PROMPT_CHARS
    with pytest.raises(RuntimeError, match="said nothing"):
        bpy_module.ops.atelier.generate_palette(source="PROMPT", prompt="n" * limit, model="standin")
    assert _sent(folder) == ["palette"]
