"""A warm backend notices when a loaded model's files change between jobs.

A model stays loaded between jobs, but its folder stays the user's: it may be deleted, or a
weights file cut short (a full disk, an interrupted copy). The next job that uses it must fail
with ``model_missing`` naming the folder or ``model_invalid`` naming the damaged file, never run
on weights that are gone nor fail as a bug; and once the files are back, the same backend
process serves the next job. Every test changes a copy of the session's tiny models.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def warm_backend(start_backend):
    """One backend for the module, as an artist's stays warm across jobs."""
    return start_backend()


@pytest.fixture
def copy_of(tmp_path):
    """``copy_of(folder) -> Path``: a copy of a session model folder this test may damage."""
    def make(folder: Path) -> Path:
        return Path(shutil.copytree(folder, tmp_path / "models" / folder.name))

    return make


def served(backend, request: dict) -> dict:
    final = backend.request(request)
    assert final["type"] == "result", final
    return final


def truncated(path: Path) -> None:
    """Cut ``path`` to half its size, as an interrupted copy or a full disk leaves it."""
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def assert_damaged(error: dict, path: Path) -> None:
    assert error["type"] == "error" and error["code"] == "model_invalid", error
    assert f"weights file {path} is damaged or truncated" in error["message"], error
    assert "replace that file" in error["hint"], error


def assert_missing(error: dict, folder: Path) -> None:
    assert error["type"] == "error" and error["code"] == "model_missing", error
    assert f"{str(folder)!r} does not exist" in error["message"], error


def test_a_texture_model_folder_deleted_between_jobs_is_missing(warm_backend, job_request, copy_of, tiny_sd):
    model = copy_of(tiny_sd)
    pid = warm_backend.proc.pid
    served(warm_backend, job_request("texture", model=str(model)))
    shutil.rmtree(model)
    assert_missing(warm_backend.request(job_request("texture", model=str(model))), model)
    copy_of(tiny_sd)
    served(warm_backend, job_request("texture", model=str(model)))
    assert warm_backend.proc.pid == pid and warm_backend.proc.poll() is None


def test_a_unet_truncated_between_jobs_is_named(warm_backend, job_request, copy_of, tiny_sd):
    model = copy_of(tiny_sd)
    weights = model / "unet" / "diffusion_pytorch_model.safetensors"
    pid = warm_backend.proc.pid
    served(warm_backend, job_request("refine-8bit", model=str(model)))
    truncated(weights)
    assert_damaged(warm_backend.request(job_request("refine-8bit", model=str(model))), weights)
    shutil.copy2(tiny_sd / weights.relative_to(model), weights)
    served(warm_backend, job_request("refine-8bit", model=str(model)))
    assert warm_backend.proc.pid == pid and warm_backend.proc.poll() is None


def test_a_text_model_truncated_between_jobs_is_named(warm_backend, copy_of, tiny_text_model):
    model = copy_of(tiny_text_model)
    weights = model / "model.safetensors"
    ideas = {"type": "ideas", "prompt": "a reading nook", "count": 1, "model": str(model), "seed": 3}
    pid = warm_backend.proc.pid
    served(warm_backend, {**ideas, "id": "ideas-before"})
    truncated(weights)
    assert_damaged(warm_backend.request({**ideas, "id": "ideas-damaged"}), weights)
    shutil.copy2(tiny_text_model / weights.name, weights)
    served(warm_backend, {**ideas, "id": "ideas-restored"})
    assert warm_backend.proc.pid == pid and warm_backend.proc.poll() is None


def test_a_marigold_part_truncated_between_jobs_is_named(warm_backend, job_request, copy_of, tiny_marigold):
    model = copy_of(tiny_marigold)
    weights = model / "normals" / "unet" / "diffusion_pytorch_model.safetensors"
    pid = warm_backend.proc.pid
    served(warm_backend, job_request("maps-marigold", model=str(model)))
    truncated(weights)
    assert_damaged(warm_backend.request(job_request("maps-marigold", model=str(model))), weights)
    shutil.copy2(tiny_marigold / weights.relative_to(model), weights)
    served(warm_backend, job_request("maps-marigold", model=str(model)))
    assert warm_backend.proc.pid == pid and warm_backend.proc.poll() is None


def test_a_control_model_deleted_between_jobs_is_missing(warm_backend, copy_of, tiny_sd, tiny_controlnet,
                                                         pictures, tmp_path):
    control = copy_of(tiny_controlnet)
    project = {"type": "project", "prompt": "weathered red bricks", "control_image": pictures["8bit"],
               "control_model": str(control), "model": str(tiny_sd), "output_dir": str(tmp_path / "out"),
               "steps": 2, "seed": 7}
    pid = warm_backend.proc.pid
    served(warm_backend, {**project, "id": "project-before"})
    shutil.rmtree(control)
    assert_missing(warm_backend.request({**project, "id": "project-deleted"}), control)
    copy_of(tiny_controlnet)
    served(warm_backend, {**project, "id": "project-restored"})
    assert warm_backend.proc.pid == pid and warm_backend.proc.poll() is None
