"""Shared set-up for the backend fault tests: the pictures jobs read, and one valid small request
for each kind of job that writes files (``job_request``) on the tiny models."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

_ids = itertools.count()


@pytest.fixture(scope="session")
def pictures(tmp_path_factory) -> dict:
    """64 px noise pictures: ``8bit`` RGB and ``16bit`` greyscale (an edit keeps 16 bits)."""
    folder = tmp_path_factory.mktemp("fault-pictures")
    noise = np.random.default_rng(5).random((64, 64, 3))
    Image.fromarray((noise * 255).astype(np.uint8)).save(folder / "rgb8.png")
    Image.fromarray((noise[..., 0] * 65535).astype(np.uint16)).save(folder / "grey16.png")
    return {"8bit": str(folder / "rgb8.png"), "16bit": str(folder / "grey16.png")}


@pytest.fixture
def job_request(tiny_sd, tiny_marigold, pictures, tmp_path):
    """``job_request(writer, **fields)``: a valid small request of a job that writes files
    (``texture``, ``maps-classic``, ``maps-marigold``, ``refine-8bit``, ``upscale-16bit``) on the tiny
    models (2 denoising steps, seed 7), writing under ``tmp_path / "out"``; fields override."""
    def make(writer: str, **fields) -> dict:
        common = {"id": f"{writer}-{next(_ids)}", "output_dir": str(tmp_path / "out"), "seed": 7}
        edit = {"prompt": "weathered red bricks", "model": str(tiny_sd), "steps": 2}
        request = {
            "texture": {"type": "texture", **edit, "width": 64, "height": 64},
            "maps-classic": {"type": "maps", "image": pictures["8bit"], "maps": ["normal", "height"],
                             "model": "classic"},
            "maps-marigold": {"type": "maps", "image": pictures["8bit"], "maps": ["normal"],
                              "model": str(tiny_marigold)},
            "refine-8bit": {"type": "refine", **edit, "image": pictures["8bit"]},
            "upscale-16bit": {"type": "upscale", **edit, "image": pictures["16bit"], "strength": 0.5},
        }[writer]
        return {**common, **request, **fields}

    return make
