"""Edits the backend refuses, each with a clear message and a hint, and what it changes and says."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from edit_pictures import block_mask, noise_picture, save


def pictures(tmp_path) -> dict:
    opaque = np.dstack([noise_picture(6), np.full((64, 64), 255, np.uint8)])
    return {
        "picture": save(noise_picture(6), tmp_path / "picture.png"),
        "odd_size": save(noise_picture(6, size=68)[:, :64], tmp_path / "odd.png"),
        "opaque": save(opaque, tmp_path / "opaque.png"),
        "wide_mask": save(block_mask(32, 64), tmp_path / "wide.png"),
        "empty_mask": save(np.zeros((64, 64), np.uint8), tmp_path / "empty.png"),
        "full_mask": save(np.full((64, 64), 255, np.uint8), tmp_path / "full.png"),
    }


# (request type, picture, extra fields, words the message must hold)
BAD_EDITS = {
    "mask_of_another_aspect": ("inpaint", "picture", {"mask": "wide_mask"}, "aspect ratios differ"),
    "empty_mask": ("inpaint", "picture", {"mask": "empty_mask"}, "the mask is empty"),
    "full_mask": ("inpaint", "picture", {"mask": "full_mask"}, "covers the whole image"),
    "opaque_picture_without_mask": ("inpaint", "opaque", {}, "the mask is empty"),
    "no_alpha_and_no_mask": ("inpaint", "picture", {}, "has no alpha channel and no mask"),
    "strength_zero": ("refine", "picture", {"strength": 0.0}, "strength must be above 0"),
    "strength_above_one": ("refine", "picture", {"strength": 1.5}, "strength must be above 0"),
    "inpaint_strength_zero": ("inpaint", "picture", {"strength": 0, "mask": "wide_mask"}, "strength"),
    # Would loop for ever if counted up step by step; refused before a model is loaded.
    "strength_needing_too_many_steps": ("refine", "picture", {"strength": 1e-12}, "above the limit"),
    "inpaint_strength_needing_too_many_steps": ("inpaint", "picture",
                                                {"strength": 1e-12, "mask": "empty_mask"}, "above the limit"),
    "size_off_the_grid": ("refine", "odd_size", {}, "multiple of 8"),
    "missing_picture": ("refine", "nowhere", {}, "does not exist"),
    "seamless_flux": ("refine", "picture", {"seamless": "xy", "model": "flux"}, "not available for flux"),
}


@pytest.mark.parametrize("case", BAD_EDITS)
def test_bad_edit_is_refused_and_the_backend_serves_the_next(backend, edit_request, tmp_path, tiny_flux,
                                                             case):
    kind, picture, extra, words = BAD_EDITS[case]
    files = pictures(tmp_path)
    files["nowhere"] = tmp_path / "missing.png"
    fields = {name: str(files[value]) if name == "mask" else value for name, value in extra.items()}
    if fields.get("model") == "flux":
        fields["model"] = str(tiny_flux)
    error = backend.request(edit_request(kind, files[picture], **fields))
    assert error["type"] == "error" and error["code"] == "bad_request", error
    assert words in error["message"] and error["hint"], error
    after = backend.request(edit_request("refine", files["picture"], steps=1, strength=1.0))
    assert after["type"] == "result", after


def test_non_finite_strength_is_refused(backend, edit_request, tmp_path, job_factory):
    from backend.tasks import refine
    from core import protocol
    from core.errors import TaskError

    picture = save(noise_picture(7), tmp_path / "p.png")
    line = edit_request("refine", picture)
    backend.send(json.dumps(line)[:-1] + ', "strength": NaN}')  # what json.dumps writes for float("nan")
    error = backend.events_for(None)[-1]  # a line with NaN is not JSON: no id is read from it
    assert error["type"] == "error" and error["code"] == "bad_request" and "NaN" in error["message"], error
    assert backend.request(edit_request("refine", picture))["type"] == "result"
    # A NaN that reaches the task some other way is refused there too, before any model loads.
    request, job = job_factory(protocol.RefineRequest, image=str(picture), strength=float("nan"),
                               model=str(tmp_path / "no-such-model"))
    with pytest.raises(TaskError, match="strength must be above 0") as caught:
        refine.run(request, job)
    assert caught.value.code == "bad_request"


def test_turbo_steps_are_raised_until_strength_runs_a_step(backend, edit_request, tmp_path, tiny_sd):
    turbo = shutil.copytree(tiny_sd, tmp_path / "tiny-sd-turbo")  # a Turbo family name: 1 step
    picture = save(noise_picture(8), tmp_path / "p.png")
    final = backend.request(edit_request("refine", picture, model=str(turbo), steps=None, guidance=None,
                                         strength=0.5))
    assert final["type"] == "result", final
    assert (final["data"]["steps"], final["data"]["guidance"]) == (2, 0.0)
    assert final["data"]["notes"] == ["steps raised from 1 to 2 so that strength 0.5 runs 1 denoising step"]
    assert final["metadata"]["notes"] == final["data"]["notes"]
    kept = backend.request(edit_request("refine", picture, model=str(turbo), steps=None, strength=1.0))
    assert kept["data"]["steps"] == 1 and kept["data"]["notes"] == []
