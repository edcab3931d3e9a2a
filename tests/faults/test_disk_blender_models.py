"""A model folder deleted, or one of its .safetensors files cut short, between two jobs on a
warm backend: the next Generate Texture fails with an error naming the folder or the file, the
scene is as it was, and once the model is whole again the same backend serves the next job.
(The model is a copy of the tiny one, named through ``ATELIER_TEXTURE_MODEL``.)"""

from __future__ import annotations

import shutil

from blend_jobs import backend_pid, file_state
from blender_helpers import mesh_object

GENERATE = dict(prompt="slate", width=64, height=64, steps=1, seed=3, maps=set())


def generate(bpy) -> str:
    """Generate Texture on the active object; '' when it succeeds, else its error."""
    try:
        assert bpy.ops.atelier.generate_texture(**GENERATE) == {"FINISHED"}
    except RuntimeError as exc:
        return str(exc)
    return ""


def failure_keeps_the_scene(bpy) -> str:
    before = file_state(bpy)
    error = generate(bpy)
    assert error, "the job ran on a model that is not whole"
    assert file_state(bpy) == before
    return error


def test_a_model_damaged_between_jobs(bpy_module, addon, clean_scene, backend_env, monkeypatch, tmp_path):
    bpy, session = bpy_module, addon.client.session
    model = tmp_path / "tiny-sd"
    shutil.copytree(backend_env, model)
    monkeypatch.setenv("ATELIER_TEXTURE_MODEL", str(model))
    mesh_object(bpy, "Slate")
    assert generate(bpy) == ""  # warm now
    pid = backend_pid(session)

    shutil.rmtree(model)
    error = failure_keeps_the_scene(bpy)
    assert str(model) in error and "model" in error.lower()
    shutil.copytree(backend_env, model)
    assert generate(bpy) == ""

    weights = model / "unet" / "diffusion_pytorch_model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 2])
    error = failure_keeps_the_scene(bpy)
    assert str(weights) in error
    weights.write_bytes(whole)
    assert generate(bpy) == ""
    assert backend_pid(session) == pid
