"""Bad upscale requests fail with a clear ``bad_request`` before any model loads, and the served
backend goes on to serve the next request."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from backend.tasks import upscale
from core import limits, protocol
from core.errors import TaskError
from core.results import parse_result

# A model that does not exist: a check that ran after loading would fail on it instead.
NO_MODEL = "/nonexistent/atelier-model"


@pytest.mark.parametrize("fields, message", [
    ({"factor": 3}, "factor must be 2 or 4, got 3"),
    ({"factor": 1}, "factor must be 2 or 4"),
    ({"strength": 0.0}, "strength must be above 0 and at most 1"),
    ({"strength": 1.5}, "strength must be above 0 and at most 1"),
    ({"strength": float("nan")}, "strength must be above 0 and at most 1"),
    ({"tile": 100}, "tile must be a multiple of 8"),
    ({"tile": 32}, "tile must be between 64 and 2048"),
    ({"seamless": "z"}, "seamless must be one of"),
])
def test_bad_settings_fail_before_any_model_loads(upscale_job, tiling_picture, fields, message):
    request, job = upscale_job(tiling_picture, model=NO_MODEL, **fields)
    with pytest.raises(TaskError) as caught:
        upscale.run(request, job)
    assert caught.value.code == "bad_request"
    assert message in caught.value.message, caught.value.message
    assert caught.value.hint


def test_a_result_beyond_the_size_limit_is_refused_naming_its_size_and_the_setting(
        upscale_job, tiling_picture, monkeypatch):
    monkeypatch.setenv("ATELIER_MAX_UPSCALE_SIZE", "200")
    request, job = upscale_job(tiling_picture, model=NO_MODEL, factor=4)
    with pytest.raises(TaskError) as caught:
        upscale.run(request, job)
    assert caught.value.code == "bad_request"
    assert "256x256" in caught.value.message and "200" in caught.value.message
    assert "ATELIER_MAX_UPSCALE_SIZE" in caught.value.hint


def test_the_upscale_limit_defaults_to_4096_and_is_reported(monkeypatch):
    monkeypatch.delenv("ATELIER_MAX_UPSCALE_SIZE", raising=False)
    assert limits.max_upscale_size() == 4096 and limits.as_dict()["max_upscale_size"] == 4096
    monkeypatch.setenv("ATELIER_MAX_UPSCALE_SIZE", "8192")
    assert limits.max_upscale_size() == 8192
    monkeypatch.setenv("ATELIER_MAX_UPSCALE_SIZE", "lots")
    assert limits.max_upscale_size() == 4096


def test_a_result_off_the_latent_grid_is_refused_with_the_size_to_use(upscale_job, tmp_path):
    image = tmp_path / "odd.png"
    Image.fromarray(np.zeros((66, 64, 3), np.uint8)).save(image)
    request, job = upscale_job(image, model=NO_MODEL, factor=2)
    with pytest.raises(TaskError) as caught:
        upscale.run(request, job)
    assert "128x132" in caught.value.message and "multiples of 8" in caught.value.message
    assert "multiples of 4" in caught.value.hint


@pytest.mark.parametrize("wrap", ["off", "xy"])
def test_a_4096_result_is_planned_as_few_calls_no_larger_than_the_tile(wrap):
    """What a 4096 px result from 1024 px tiles costs, without running it on the CPU: a bounded
    number of pipeline calls, each one tile of 1024 px."""
    plan = upscale.plan_for(4096, 4096, 1024, wrap)
    assert 25 <= len(plan.tiles) <= 36
    assert all(tile.height == tile.width == 1024 for tile in plan.tiles)
    assert all(tile.top % 8 == 0 and tile.left % 8 == 0 for tile in plan.tiles)  # on the latent grid


def test_the_served_backend_refuses_factor_3_then_upscales(backend, tiny_sd, tiling_picture, tmp_path):
    base = {"type": "upscale", "image": str(tiling_picture), "prompt": "bricks", "model": str(tiny_sd),
            "output_dir": str(tmp_path / "out"), "steps": 2, "strength": 0.5, "seed": 3, "tile": 128}
    refused = backend.request({**base, "id": "upscale-bad", "factor": 3})
    assert refused["type"] == "error" and refused["code"] == "bad_request", refused
    assert "factor must be 2 or 4" in refused["message"]

    final = backend.request({**base, "id": "upscale-good", "factor": 2})
    assert final["type"] == "result", final
    event = protocol.decode_event(json.dumps(final))
    result = parse_result("upscale", event, tmp_path / "out")
    assert Image.open(result.base_color).size == (128, 128)
    assert (result.settings.width, result.settings.height, result.settings.seamless) == (128, 128, "off")
    assert final["data"]["factor"] == 2 and final["metadata"]["parameters"]["image"] == str(tiling_picture)
