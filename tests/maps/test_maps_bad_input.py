"""Every bad maps request is refused with a clear error, and the backend keeps serving.

The shared server reads at most 512 pixels a side (``--max-size 512``) and has an empty
Hugging Face cache, so the Marigold hub models are not there.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from core.maps_models import MARIGOLD_PARTS


def refused(backend, request: dict, code: str = "bad_request") -> dict:
    error = backend.request(request)
    assert error["type"] == "error", error
    assert error["code"] == code, error
    assert error["message"] and error["hint"], error
    backend.send({"type": "ping", "id": "alive"})
    while (event := backend.next_event()) != {"type": "pong", "id": "alive"}:  # still serving
        backend.stash.append(event)
    return error


def save(path, array: np.ndarray, mode: str | None = None) -> str:
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return str(path)


@pytest.mark.parametrize("problem, text", [
    ("missing", "does not exist"),
    ("folder", "is a folder"),
    ("not an image", "is not an image"),
    ("cut short", "cannot be read"),
    ("empty", "no image was given"),
    ("relative", "not an absolute path"),
])
def test_an_image_file_that_cannot_be_used_is_refused(backend, maps_request, texture_png, tmp_path,
                                                      problem, text):
    if problem == "missing":
        image = str(tmp_path / "nowhere.png")
    elif problem == "folder":
        image = str(tmp_path)
    elif problem == "not an image":
        (tmp_path / "notes.png").write_text("these are words, not pixels")
        image = str(tmp_path / "notes.png")
    elif problem == "cut short":
        data = texture_png.read_bytes()
        (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
        image = str(tmp_path / "cut.png")
    else:
        image = "" if problem == "empty" else "pictures/tiles.png"
    error = refused(backend, maps_request(image=image))
    assert text in error["message"], error


def test_a_one_pixel_image_is_refused_naming_the_minimum(backend, maps_request, tmp_path):
    image = save(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8))
    error = refused(backend, maps_request(image=image))
    assert "1x1 pixels" in error["message"] and "at least 8x8" in error["message"], error


def test_an_image_beyond_the_size_limit_is_refused_before_decoding(backend, maps_request, tmp_path):
    image = save(tmp_path / "wide.png", np.zeros((16, 600, 3), np.uint8))
    error = refused(backend, maps_request(image=image))
    assert "600x16 pixels" in error["message"] and "at most 512" in error["message"], error
    assert "ATELIER_MAX_SIZE" in error["hint"]


@pytest.mark.parametrize("fields, text", [
    ({"maps": ["normal", "glossiness"]},
     "unknown map 'glossiness'; use one of normal, height, roughness, metallic, ao, albedo"),
    ({"maps": []}, "no maps were asked for"),
    ({"maps": [3]}, "must be a map name"),
    ({"seamless": "diagonal"}, "seamless must be one of off, x, y, xy"),
    ({"steps": 0}, "steps must be between 1 and"),
    ({"model": "vaporware"}, "unknown maps model 'vaporware'"),
    ({"model": "prs-eth/marigold-normals-v1-1"}, "is one hub id"),
])
def test_a_bad_setting_is_refused(backend, maps_request, fields, text):
    error = refused(backend, maps_request(**fields))
    assert text in error["message"], error


def test_a_model_folder_that_does_not_exist_is_missing(backend, maps_request, tmp_path):
    error = refused(backend, maps_request(model=str(tmp_path / "no-such-models")), code="model_missing")
    assert "does not exist" in error["message"]


@pytest.mark.parametrize("part", [part.folder for part in MARIGOLD_PARTS])
def test_a_model_folder_lacking_a_pipeline_names_the_missing_subfolder(backend, maps_request, tiny_marigold,
                                                                      tmp_path, part):
    partial = shutil.copytree(tiny_marigold, tmp_path / "partial")
    shutil.rmtree(partial / part)
    error = refused(backend, maps_request(model=str(partial), maps=["normal"]), code="model_invalid")
    assert f"has no {part}/ subfolder" in error["message"], error
    assert f"hf download {next(p.hub_id for p in MARIGOLD_PARTS if p.folder == part)}" in error["hint"]


def test_a_subfolder_holding_the_wrong_pipeline_is_refused(backend, maps_request, tiny_marigold, tmp_path):
    swapped = shutil.copytree(tiny_marigold, tmp_path / "swapped")
    shutil.rmtree(swapped / "normals")
    shutil.copytree(tiny_marigold / "depth", swapped / "normals")
    error = refused(backend, maps_request(model=str(swapped), maps=["normal"]), code="model_invalid")
    assert "holds a MarigoldDepthPipeline, not the MarigoldNormalsPipeline" in error["message"], error


def test_a_lighting_model_in_appearance_is_refused(backend, maps_request, tiny_marigold, tmp_path):
    lighting = shutil.copytree(tiny_marigold, tmp_path / "lighting")
    index = lighting / "appearance" / "model_index.json"
    spec = json.loads(index.read_text())
    spec["target_properties"] = {"target_names": ["albedo", "shading", "residual"]}
    index.write_text(json.dumps(spec))
    error = refused(backend, maps_request(model=str(lighting), maps=["roughness"]), code="model_invalid")
    assert "does not predict roughness, metallicity" in error["message"], error


def test_pickle_weights_are_refused(backend, maps_request, tiny_marigold, tmp_path):
    pickled = shutil.copytree(tiny_marigold, tmp_path / "pickled")
    weights = pickled / "depth" / "unet" / "diffusion_pytorch_model.safetensors"
    weights.rename(weights.with_suffix(".bin"))
    error = refused(backend, maps_request(model=str(pickled), maps=["height"]), code="model_invalid")
    assert "pickle" in error["message"], error


def test_hub_models_not_downloaded_are_missing_with_the_download_commands(backend, maps_request):
    error = refused(backend, maps_request(model="marigold", maps=["normal", "height"]), code="model_missing")
    assert "prs-eth/marigold-normals-v1-1" in error["message"], error
    assert "`hf download prs-eth/marigold-normals-v1-1` and `hf download prs-eth/marigold-depth-v1-1`" \
        in error["hint"], error
