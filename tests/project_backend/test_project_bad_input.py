"""``project`` and ``restyle`` requests the backend refuses before any model loads, each with a
message naming the file or setting and a hint; a cancel midway; the server serves the next job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from project_pictures import depth_disc, noise_picture, save, unpainted_mask


def bad_files(folder: Path) -> dict:
    (folder / "notes.png").write_text("not a picture", encoding="utf-8")
    return {
        "off_grid": save(depth_disc(size=64, width=68), folder / "off-grid.png"),
        "too_large": save(depth_disc(size=576), folder / "large.png"),  # the server's limit is 512
        "large_picture": save(noise_picture(2, size=128), folder / "large-picture.png"),
        "large_mask": save(unpainted_mask(128), folder / "large-mask.png"),
        "empty_mask": save(np.zeros((64, 64), np.uint8), folder / "empty-mask.png"),
        "not_an_image": folder / "notes.png",
        "nowhere": folder / "missing.png",
    }


# (request type, fields (a value naming a file of ``bad_files`` or ``view`` is replaced by its
# path), words the message must hold (one string or several))
BAD_REQUESTS = {
    "no_control_image": ("project", {"control_image": ""}, "no control_image was given"),
    "missing_control_image": ("project", {"control_image": "nowhere"}, "control_image: image"),
    "unreadable_control_image": ("project", {"control_image": "not_an_image"}, "cannot be read"),
    "control_image_off_the_grid": ("project", {"control_image": "off_grid"}, "must be multiples of 8"),
    "control_image_over_the_limit": ("project", {"control_image": "too_large"}, "at most 512 pixels"),
    "mask_of_another_size": ("project", {"image": "picture", "mask": "large_mask"},
                             ("mask '", "is 128x128 pixels but the control image is 64x64")),
    "picture_of_another_size": ("project", {"image": "large_picture", "mask": "mask"},
                                ("image '", "is 128x128 pixels but the control image is 64x64")),
    "picture_without_mask": ("project", {"image": "picture"}, "image was given without mask"),
    "mask_without_picture": ("project", {"mask": "mask"}, "mask was given without image"),
    "empty_mask": ("project", {"image": "picture", "mask": "empty_mask"}, "nothing left to paint"),
    "strength_zero": ("project", {"image": "picture", "mask": "mask", "strength": 0.0}, "strength must be"),
    "too_many_steps": ("project", {"steps": 100000}, "steps must be between"),
    "restyle_without_picture": ("restyle", {"image": ""}, "no image was given"),
    "restyle_picture_of_another_size": ("restyle", {"image": "large_picture"}, "the same camera"),
    "restyle_strength_above_one": ("restyle", {"strength": 1.5}, "strength must be above 0"),
    "restyle_missing_picture_without_depth": ("restyle", {"image": "nowhere", "control_image": ""},
                                              "does not exist"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_request_is_refused_and_the_backend_serves_the_next(backend, control_request, view, tmp_path,
                                                                case):
    kind, fields, words = BAD_REQUESTS[case]
    files = {**bad_files(tmp_path), **view}
    fields = {name: str(files[value]) if isinstance(value, str) and value in files else value
              for name, value in fields.items()}
    error = backend.request(control_request(kind, **fields))
    assert error["type"] == "error" and error["code"] == "bad_request", error
    assert all(part in error["message"] for part in ((words,) if isinstance(words, str) else words)), error
    assert error["hint"], error
    after = backend.request(control_request("project"))
    assert after["type"] == "result", after


@pytest.mark.parametrize("later", [False, True], ids=["first_view", "later_view"])
def test_a_cancel_midway_stops_the_view_and_writes_nothing(backend, control_request, tmp_path, later):
    size = 256
    depth = save(depth_disc(centre=(128, 112), radius=80, size=size), tmp_path / "big-depth.png")
    fields = {"image": str(save(noise_picture(3, size), tmp_path / "big-picture.png")),
              "mask": str(save(unpainted_mask(size), tmp_path / "big-mask.png"))} if later else {}
    job = control_request("project", control_image=str(depth), steps=150, **fields)  # long enough to stop
    backend.send(job)
    backend.wait_for_progress(job["id"])
    backend.send({"type": "cancel", "id": f"cancel-{job['id']}", "job": job["id"]})
    assert backend.events_for(job["id"])[-1]["code"] == "cancelled"
    assert not list((tmp_path / "out").glob(f"{job['id']}*/*.png"))
    after = backend.request(control_request("project"))
    assert after["type"] == "result", after
