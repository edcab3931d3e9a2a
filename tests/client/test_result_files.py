"""Results are parsed once on receipt, and only files inside the client's own job folder count.

The stand-in backend (``conftest.py``) answers texture requests with files outside the job
folder, a link pointing out of it, a real image inside it, or a payload of the wrong shape.
"""

import os
import shutil
import time

import pytest
from blender_helpers import mesh_object
from scene_state import scene_state


@pytest.fixture
def outside(tmp_path):
    """Two files that are not the job's: a photo and a text file in another folder."""
    other = tmp_path / "precious"
    other.mkdir()
    photo, notes = other / "holiday.png", other / "notes.txt"
    from PIL import Image

    Image.new("RGB", (8, 8), (10, 120, 30)).save(photo)
    notes.write_text("do not delete\n")
    return photo, notes


def _fingerprint(paths):
    return {str(p): (p.read_bytes(), os.stat(p).st_mtime_ns) for p in paths}


def _jobs_folder(addon):
    from pathlib import Path

    return Path(addon.preferences.user_folder("jobs"))


def _jobs_listing(addon):
    return sorted(p.name for p in _jobs_folder(addon).iterdir())


def test_a_result_naming_files_outside_the_job_folder_is_refused(addon, bpy_module, standin, outside):
    photo, notes = outside
    standin(files=[{"role": "base_color", "path": str(photo), "format": "png"},
                   {"role": "preview", "path": str(notes), "format": "txt"}])
    mesh_object(bpy_module)
    before, files_before, jobs_before = scene_state(bpy_module), _fingerprint(outside), _jobs_listing(addon)
    with pytest.raises(RuntimeError, match="outside the job's folder"):
        bpy_module.ops.atelier.generate_texture(prompt="stolen goods", model="standin", width=64, height=64)
    assert _fingerprint(outside) == files_before  # both still there, unchanged
    assert scene_state(bpy_module) == before
    assert "holiday" not in bpy_module.data.images
    assert _jobs_listing(addon) == jobs_before  # the job's own folder is gone again


def test_the_request_names_a_new_folder_the_client_made(addon, bpy_module, standin, outside):
    folder = standin(files=[{"role": "base_color", "path": str(outside[0]), "format": "png"}])
    mesh_object(bpy_module)
    with pytest.raises(RuntimeError):
        bpy_module.ops.atelier.generate_texture(prompt="where", model="standin", width=64, height=64)
    sent = (folder / "seen_output_dir.txt").read_text()
    jobs = _jobs_folder(addon).resolve()
    assert os.path.dirname(sent) == str(jobs) and os.path.basename(sent) != ""
    assert not os.path.exists(sent)


def test_a_link_in_the_job_folder_pointing_out_is_refused(addon, bpy_module, standin, outside):
    photo, _ = outside
    standin(link_out=str(photo))
    mesh_object(bpy_module)
    before, files_before = scene_state(bpy_module), _fingerprint(outside)
    with pytest.raises(RuntimeError, match="outside the job's folder"):
        bpy_module.ops.atelier.generate_texture(prompt="linked", model="standin", width=64, height=64)
    assert _fingerprint(outside) == files_before
    assert scene_state(bpy_module) == before


def test_a_result_file_inside_the_job_folder_is_applied_and_the_folder_removed(
        addon, bpy_module, standin):
    standin(write_inside=True)
    cube = mesh_object(bpy_module)
    jobs_before = _jobs_listing(addon)
    assert bpy_module.ops.atelier.generate_texture(prompt="red", model="standin", width=64,
                                                   height=64) == {"FINISHED"}
    image = bpy_module.data.images["red"]
    assert tuple(image.size) == (8, 8) and image.packed_file is not None
    assert cube.active_material.name == "red"
    assert _jobs_listing(addon) == jobs_before


@pytest.mark.parametrize("override, says", [
    ({"data": {"prompt": "x", "width": "wide"}}, "'width' must be a whole number"),
    ({"data": ["not", "an", "object"]}, "field 'data' must be an object"),
    ({"metadata": "not an object"}, "field 'metadata' must be an object"),
    ({"metadata": {"task": "texture"}}, "provenance record is malformed"),
    ({"files": [{"role": "base_color"}]}, "missing field 'path'"),
])
def test_a_malformed_result_ends_the_job_at_once_with_a_clear_error(addon, bpy_module, standin,
                                                                    override, says):
    standin(write_inside=True, override=override)
    jobs, protocol = addon.client.session, addon.core.protocol
    client = jobs.client_for(addon.preferences.backend_config(jobs.EXTENSION_DIR))
    request = protocol.TextureRequest(id=jobs.new_request_id(), prompt="x", width=64, height=64,
                                      model="standin", output_dir=addon.preferences.user_folder("jobs"))
    jobs_before = _jobs_listing(addon)
    started = time.monotonic()
    job = jobs.wait(client, jobs.submit(client, request), timeout=30)
    assert time.monotonic() - started < 10
    assert job.error is not None and job.error.code == "invalid_output", job.error
    assert says in job.error.message and job.result is None
    assert _jobs_listing(addon) == jobs_before

    mesh_object(bpy_module)
    before = scene_state(bpy_module)
    with pytest.raises(RuntimeError, match="cannot"):
        bpy_module.ops.atelier.generate_texture(prompt="x", model="standin", width=64, height=64)
    assert scene_state(bpy_module) == before


def test_job_folders_are_new_and_removal_touches_nothing_else(addon, tmp_path):
    job_folder = addon.client.job_folder
    folder = job_folder.create(tmp_path / "jobs", "abc123")
    assert folder.path == (tmp_path / "jobs" / "abc123").resolve() and folder.path.is_dir()
    with pytest.raises(job_folder.JobFolderError, match="already exists"):
        job_folder.create(tmp_path / "jobs", "abc123")
    with pytest.raises(job_folder.JobFolderError, match="cannot name a job folder"):
        job_folder.create(tmp_path / "jobs", "../escape")

    keep = tmp_path / "keep.txt"
    keep.write_text("mine")
    (folder.path / "out.png").write_bytes(b"x")
    (folder.path / "link").symlink_to(keep)
    folder.remove()
    assert not folder.path.exists() and keep.read_text() == "mine"

    # A folder swapped in under the same name is not the one made: it stays.
    swapped = job_folder.create(tmp_path / "jobs", "swap")
    shutil.rmtree(swapped.path)  # with its lock file
    swapped.path.symlink_to(tmp_path, target_is_directory=True)
    swapped.remove()
    assert keep.read_text() == "mine" and swapped.path.is_symlink()


def test_the_parser_accepts_only_regular_files_inside_the_folder(addon, tmp_path):
    results = addon.core.results
    folder = tmp_path / "job"
    (folder / "sub").mkdir(parents=True)
    inner = folder / "sub" / "base_color.png"
    inner.write_bytes(b"png")
    assert results.inside(folder, str(inner)) == inner.resolve()
    for path, says in [(str(tmp_path / "other.png"), "outside the job's folder"),
                       (str(folder / "sub" / ".." / ".." / "x"), "outside the job's folder"),
                       ("relative.png", "not an absolute path"),
                       (str(folder / "sub"), "not a regular file"),
                       (str(folder / "missing.png"), "not there")]:
        with pytest.raises(results.ResultError, match=says):
            results.inside(folder, path)
    with pytest.raises(results.ResultError, match="no folder"):
        results.inside(None, str(inner))
