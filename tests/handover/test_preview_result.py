"""The client's view of a preview (``core.results.PreviewResult``): the raw file's size is
checked against the stated width and height before anything reads it, the size must lie within
the limits, and a file outside the job's folder is refused like any other."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from core import limits, protocol
from core.results import PreviewResult, ResultError, TextureResult, parse_result

RECORD = {"task": "texture", "engine": "diffusers", "model": "m", "parameters": {}, "versions": {}}
DATA = {"prompt": "moss", "negative_prompt": "", "steps": 1, "guidance": 0.0, "seed": 3, "seamless": "off"}


def event(folder: Path, width=64, height=64, size=None, roles=("preview",), **data):
    files = []
    for role in roles:
        name, form = ("preview.rgba", "rgba8") if role == "preview" else (f"{role}.png", "png")
        path = folder / name
        path.write_bytes(b"\x7f" * (width * height * 4 if size is None else size))
        files.append(protocol.ResultFile(role, str(path), form))
    return SimpleNamespace(id="p", files=files, metadata=RECORD,
                           data={**DATA, "width": width, "height": height, **data})


def test_a_preview_result_names_its_pixels_size_and_notes(tmp_path):
    result = parse_result("texture", event(tmp_path, 128, 64, notes=["the full VAE decoded"]), tmp_path)
    assert isinstance(result, PreviewResult)
    assert result.pixels == (tmp_path / "preview.rgba").resolve()
    assert (result.width, result.height, result.settings.prompt) == (128, 64, "moss")
    assert result.notes == ("the full VAE decoded",)


def test_a_result_with_a_base_color_is_a_texture_whatever_else_it_holds(tmp_path):
    result = parse_result("texture", event(tmp_path, roles=("base_color", "preview")), tmp_path)
    assert isinstance(result, TextureResult)


@pytest.mark.parametrize("size", [64 * 64 * 4 - 1, 64 * 64 * 4 + 4, 0, 64 * 64 * 3])
def test_a_preview_file_of_the_wrong_size_is_refused(tmp_path, size):
    with pytest.raises(ResultError, match=f"holds {size} bytes, not the 16384 of 64x64 RGBA pixels"):
        parse_result("texture", event(tmp_path, size=size), tmp_path)


@pytest.mark.parametrize("width, height", [(limits.MIN_SIZE - 1, 64), (64, limits.max_size() + 8),
                                           (0, 64)])
def test_a_preview_size_outside_the_limits_is_refused(tmp_path, width, height):
    with pytest.raises(ResultError, match=f"the preview's size {width}x{height} is outside"):
        parse_result("texture", event(tmp_path, width, height), tmp_path)


def test_a_preview_file_outside_the_job_folder_is_refused(tmp_path):
    job, elsewhere = tmp_path / "job", tmp_path / "elsewhere"
    job.mkdir()
    elsewhere.mkdir()
    with pytest.raises(ResultError, match="outside the job's folder"):
        parse_result("texture", event(elsewhere), job)
    (job / "preview.rgba").symlink_to(elsewhere / "preview.rgba")  # a link that points out
    linked = event(elsewhere)
    linked.files = [protocol.ResultFile("preview", str(job / "preview.rgba"), "rgba8")]
    with pytest.raises(ResultError, match="outside the job's folder"):
        parse_result("texture", linked, job)


@pytest.mark.parametrize("form", ["png", "rgb8", "", None])
def test_a_preview_file_of_another_format_is_refused(tmp_path, form):
    raw = event(tmp_path)
    raw.files = [protocol.ResultFile("preview", raw.files[0].path, form)]
    with pytest.raises(ResultError, match="the result's preview file has format .* not 'rgba8'"):
        parse_result("texture", raw, tmp_path)


def test_a_preview_without_a_job_folder_is_refused(tmp_path):
    with pytest.raises(ResultError, match="this job has no folder"):
        parse_result("texture", event(tmp_path), None)


def test_a_preview_file_gone_after_the_folder_check_is_a_result_error(tmp_path, monkeypatch):
    """Removed between the check that it lies inside the folder and the size check: the same
    clear refusal, never an OSError."""
    from core import results

    checked = results.inside

    def check_then_remove(folder, path):
        real = checked(folder, path)
        real.unlink()
        return real

    monkeypatch.setattr(results, "inside", check_then_remove)
    with pytest.raises(ResultError, match=r"the preview file .*preview\.rgba' cannot be read"):
        parse_result("texture", event(tmp_path), tmp_path)
