"""Palettes from a prompt and scene ideas from a real OpenAI-compatible server (llama-cpp-python's,
with the tiny random model; ``conftest.py``), from Blender through ``client/``: no backend
process runs, and the results land in the scene as the backend's do. (Random weights write
ideas that need repairs and fail the layout checks, so building an idea in Blender is shown with
the scripted server handing over a known-good one.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from panel_recorder import draw, labels
from scripted_server import MODEL, running, stream

PROMPT = "a rainy neon alley"


@pytest.fixture
def text_server_set(addon, text_server, monkeypatch):
    """The text server set through the environment overrides, and no backend to fall back on:
    no backend Python, and none running."""
    addon.client.session.shutdown()
    monkeypatch.delenv("ATELIER_PYTHON", raising=False)
    monkeypatch.delenv("ATELIER_TEXT_MODEL", raising=False)  # not 'builtin'
    monkeypatch.setenv("ATELIER_TEXT_SERVER_URL", text_server.url)
    monkeypatch.setenv("ATELIER_TEXT_SERVER_MODEL", text_server.model)
    yield text_server
    addon.client.session.shutdown()


def _run(addon, request):
    session = addon.client.session
    client = session.client_for(addon.preferences.text_server_config())
    job = session.submit(client, request, label="real text server")
    return session.wait(client, job, timeout=300)


def test_a_palette_job_is_answered_by_the_server_and_recorded(addon, text_server_set):
    protocol = addon.core.protocol
    request = protocol.PaletteRequest(id="real-palette", source="prompt", prompt=PROMPT, count=5, seed=11)
    job = _run(addon, request)
    assert job.error is None, f"{job.error.message} — {job.error.hint}"
    colors = job.result.scheme.colors
    assert len(colors) == 5 and sum(color.role == "primary" for color in colors) >= 1
    record = job.result.provenance
    assert (record.task, record.engine) == ("palette", "openai-compatible")
    assert record.model == text_server_set.model
    assert record.model_source == text_server_set.url and record.device is None
    assert record.parameters["seed"] == 11 and record.extra["attempts"] in (1, 2)
    assert addon.client.session.current_client() is None  # the backend's client never started


def test_an_ideas_job_is_answered_by_the_server_with_ideas_ready_to_build(addon, text_server_set):
    """llama.cpp's grammar ignores the schema's numeric bounds, so random weights write numbers
    like 75E855 (infinity once read): Atelier clamps them as it clamps any number out of range,
    and the ideas come back schema-valid, recorded like the backend's."""
    protocol, ideas = addon.core.protocol, addon.core.ideas
    request = protocol.IdeasRequest(id="real-ideas", prompt="a reading nook", count=1, seed=2)
    job = _run(addon, request)
    assert job.error is None, f"{job.error.message} — {job.error.hint}"
    [idea] = job.result.ideas
    assert ideas.schema_problems(idea) == []
    assert any("too large to hold" in repair for repair in job.result.repairs), job.result.repairs
    record = job.result.provenance
    assert (record.engine, record.model) == ("openai-compatible", text_server_set.model)
    assert record.extra["attempts"] in (1, 2)


def test_blender_makes_a_palette_with_no_backend(bpy_module, addon, clean_scene, text_server_set):
    bpy = bpy_module
    assert bpy.ops.atelier.generate_palette(source="PROMPT", prompt=PROMPT, count=4, seed=3) == {"FINISHED"}
    palette = clean_scene.atelier.palette.palette
    assert palette is not None and len(palette.colors) == 4
    record = json.loads(clean_scene.atelier.palettes[palette.name].provenance)
    assert (record["engine"], record["model"]) == ("openai-compatible", text_server_set.model)
    assert addon.client.session.current_client() is None  # no backend process was ever started


def test_blender_suggests_and_builds_an_idea_with_no_backend(bpy_module, addon, clean_scene, monkeypatch):
    """The tiny random model's ideas are valid but arbitrary, so here the scripted server hands
    over a known-good idea: what is tested is Blender's side, from the operator
    through ``client/`` to the built block-out."""
    bpy, session = bpy_module, addon.client.session
    nook = json.loads((Path(__file__).parents[1] / "ideas" / "reading_nook.json").read_text())
    session.shutdown()
    monkeypatch.delenv("ATELIER_PYTHON", raising=False)
    monkeypatch.delenv("ATELIER_TEXT_MODEL", raising=False)
    with running() as server:
        server.script(stream(json.dumps({"ideas": [nook]})))
        monkeypatch.setenv("ATELIER_TEXT_SERVER_URL", server.url)
        monkeypatch.setenv("ATELIER_TEXT_SERVER_MODEL", MODEL)
        try:
            assert bpy.ops.atelier.suggest_scene(prompt="a reading nook", count=1, seed=8) == {"FINISHED"}
        finally:
            session.shutdown()
    [stored] = clean_scene.atelier.ideas
    assert stored.title == nook["title"]
    assert server.requests[0]["body"]["response_format"]["json_schema"]["schema"] == (
        addon.core.ideas_prompt.generation_schema(1))
    objects_before = len(bpy.data.objects)
    assert bpy.ops.atelier.apply_scene_idea(index=0) == {"FINISHED"}
    assert len(bpy.data.objects) > objects_before and clean_scene.camera is not None
    assert session.current_client() is None  # no backend process was ever started


def test_with_a_text_server_set_only_its_jobs_skip_the_backend(bpy_module, addon, clean_scene, monkeypatch):
    """Palettes from an image, a harmony or a painted image still need the backend: with none
    set up they are refused with the backend's reason; the prompt and ideas buttons stay on."""
    bpy, panels = bpy_module, addon.panels
    addon.client.session.shutdown()
    monkeypatch.delenv("ATELIER_PYTHON", raising=False)
    monkeypatch.delenv("ATELIER_TEXT_MODEL", raising=False)
    monkeypatch.setenv("ATELIER_TEXT_SERVER_URL", "http://127.0.0.1:9/v1")  # never contacted here
    for source in ("HARMONY", "PROMPT_IMAGE"):
        with pytest.raises(RuntimeError, match="Set the backend Python"):
            bpy.ops.atelier.generate_palette(source=source, prompt=PROMPT, base_color=(0.2, 0.4, 0.6))
    assert addon.client.session.current_client() is None

    def button_enabled(panel) -> bool:
        calls = draw(bpy, panel)
        button = next(i for i, c in enumerate(calls) if c[0] == "operator" and c[1][0].startswith("atelier."))
        return [c[1][0] for c in calls[:button] if c[0] == "enabled"][-1]

    settings = clean_scene.atelier.palette
    settings.source = "PROMPT"
    assert button_enabled(panels.palette.ATELIER_PT_palette)
    assert button_enabled(panels.ideas.ATELIER_PT_ideas)
    settings.source = "HARMONY"
    assert not button_enabled(panels.palette.ATELIER_PT_palette)
    shown = labels(draw(bpy, panels.palette.ATELIER_PT_palette))
    assert any(label.startswith("Set the backend Python") for label in shown)
