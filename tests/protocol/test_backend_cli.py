"""One-shot commands for scripts, and ``doctor``, as a user runs them from a terminal."""

from __future__ import annotations

import json

import numpy as np
from backend_process import run_backend
from PIL import Image


def test_texture_command_writes_the_png_and_prints_metadata(tiny_sd, tmp_path, backend, texture_request):
    out = tmp_path / "wall.png"
    done = run_backend("texture", "weathered red bricks", "--out", str(out), "--model", str(tiny_sd),
                       "--width", "64", "--height", "64", "--steps", "2", "--seed", "7",
                       "--device", "cpu")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["files"] == [{"role": "base_color", "path": str(out), "format": "png"}]
    assert printed["metadata"]["parameters"]["seed"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wall.png"]  # no scratch folder left
    served = backend.request(texture_request())  # the same settings through serve
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(served["files"][0]["path"])))


def test_texture_command_fails_with_a_reason(tmp_path):
    done = run_backend("texture", "  ", "--out", str(tmp_path / "x.png"), "--model", str(tmp_path))
    assert done.returncode == 1
    assert "prompt is empty" in done.stderr and "hint:" in done.stderr
    assert done.stdout == ""
    done = run_backend("texture", "bricks", "--out", str(tmp_path / "x.jpg"))
    assert done.returncode == 1 and "--out must name a .png file" in done.stderr


def test_doctor_runs_a_tiny_pipeline_and_a_tiny_text_model_end_to_end():
    done = run_backend("doctor", env={"ATELIER_DEVICE": "auto"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "torch" in done.stdout and "CUDA" in done.stdout and "MPS" in done.stdout
    assert "end-to-end texture on cpu (float32): ok" in done.stdout
    assert "end-to-end text on cpu (float32): ok" in done.stdout and "schema-valid JSON" in done.stdout
    assert done.stdout.rstrip().endswith("doctor: everything works")


def test_doctor_fails_with_a_readable_reason():
    done = run_backend("doctor", env={"ATELIER_DEVICE": "tpu"})
    assert done.returncode == 1
    assert "doctor: BROKEN: unknown device 'tpu'" in done.stderr and "hint:" in done.stderr
    assert "everything works" not in done.stdout


def test_palette_and_ideas_commands_reach_their_tasks():
    done = run_backend("palette", "--source", "harmony", "--harmony", "triadic", "--base-color", "#336699")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["data"]["colors"]) >= 3
    missing = run_backend("ideas", "a cozy cabin", "--model", "nobody-here/no-model")
    assert missing.returncode == 1 and "model_missing" in missing.stderr
    bad_context = run_backend("ideas", "a cozy cabin", "--context", "[1]")
    assert bad_context.returncode == 1 and "JSON object" in bad_context.stderr


def test_context_hint_shows_a_context_the_ideas_task_accepts():
    from backend.tasks.ideas import describe_context

    for bad in ("[1]", "{not json"):
        done = run_backend("ideas", "a cozy cabin", "--context", bad)
        assert done.returncode == 1
        example = done.stderr.split("hint: e.g. --context '", 1)[1].rsplit("'", 1)[0]
        described = describe_context(json.loads(example))  # raises TaskError if it were refused
        assert "Chair" in described and "#1a2b3c" in described
