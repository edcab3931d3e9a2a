"""(b) through the server: a seamless job, then a plain one that is exactly as if none came before."""

from __future__ import annotations

import numpy as np
from PIL import Image


def test_plain_job_after_seamless_is_unaffected(backend, texture_request):
    first = backend.request(texture_request(seed=11))
    seamless = backend.request(texture_request(seed=11, seamless="xy"))
    again = backend.request(texture_request(seed=11))
    assert [e["type"] for e in (first, seamless, again)] == ["result"] * 3
    assert seamless["metadata"]["parameters"]["seamless"] == "xy"
    pixels = [np.asarray(Image.open(e["files"][0]["path"])) for e in (first, seamless, again)]
    assert not np.array_equal(pixels[0], pixels[1])
    assert np.array_equal(pixels[0], pixels[2])


def test_cancelled_seamless_job_leaves_the_model_unpatched(backend, texture_request):
    before = backend.request(texture_request(seed=12))
    job = texture_request(seed=12, seamless="x", steps=150, width=128, height=128)  # long enough to stop
    backend.send(job)
    backend.wait_for_progress(job["id"])
    backend.send({"type": "cancel", "id": "c-seamless", "job": job["id"]})
    assert backend.events_for(job["id"])[-1]["code"] == "cancelled"
    after = backend.request(texture_request(seed=12))
    pixels = [np.asarray(Image.open(e["files"][0]["path"])) for e in (before, after)]
    assert np.array_equal(*pixels)
