"""Shared set-up for the upscale tests: pictures on disk and in-process upscale jobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from seams import tiling_noise

from core import protocol


@pytest.fixture
def tiling_picture(tmp_path) -> Path:
    """A 64 px 8-bit picture that tiles both ways (colour noise blurred around the ring)."""
    path = tmp_path / "tiling.png"
    Image.fromarray(np.rint(tiling_noise((64, 64)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def upscale_job(job_factory, tiny_sd):
    """``upscale_job(image, **fields) -> (request, job)``: an in-process upscale of ``image`` with
    the tiny SD model (4 steps, guidance 4, seed 1234); keyword arguments override fields."""
    def make(image, **fields):
        settings = {"image": str(image), "prompt": "weathered red bricks", "model": str(tiny_sd),
                    "steps": 4, "guidance": 4.0, "seed": 1234, **fields}
        return job_factory(protocol.UpscaleRequest, **settings)

    return make


@pytest.fixture(scope="session")
def tiny_sd_128(tiny_sd, tmp_path_factory) -> Path:
    """A copy of the tiny SD model whose native size is 128 px (the UNet's default latent side
    16, the VAE's scale 8), so a 64 px picture upscaled twice is one tile at the native size."""
    import json
    import shutil

    folder = shutil.copytree(tiny_sd, tmp_path_factory.mktemp("tiny-sd-128") / "model")
    config = folder / "unet" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "sample_size": 16}))
    return folder
