"""Shared set-up for the projection backend tests: tiny depth ControlNets, a view's files and
``project`` / ``restyle`` requests for the served backend."""

from __future__ import annotations

import itertools

import pytest
from project_pictures import depth_disc, noise_picture, save, unpainted_mask

_ids = itertools.count()


@pytest.fixture(scope="session")
def tiny_controlnet_sdxl(tmp_path_factory):
    """A tiny random-weight depth ControlNet for the tiny SDXL pipeline."""
    from tiny_pipelines import build_tiny_controlnet

    return build_tiny_controlnet(tmp_path_factory.mktemp("models") / "tiny-controlnet-sdxl", for_sdxl=True)


@pytest.fixture
def view(tmp_path) -> dict:
    """One view's files: ``depth`` (the control image), ``picture`` (the texture so far seen from
    the view) and ``mask`` (white = not painted yet), each 64 x 64, as paths."""
    return {"depth": save(depth_disc(), tmp_path / "depth.png"),
            "picture": save(noise_picture(1), tmp_path / "picture.png"),
            "mask": save(unpainted_mask(), tmp_path / "mask.png")}


@pytest.fixture
def control_request(tiny_sd, tiny_controlnet, view, tmp_path):
    """``control_request(kind, **fields)``: a valid small ``project`` (first view) or ``restyle``
    request (of ``view``'s picture) on tiny SD with the tiny ControlNet, 2 steps, guidance 4,
    seed 7; keyword arguments override fields."""
    def make(kind: str, **fields) -> dict:
        request = {"type": kind, "id": f"{kind}-{next(_ids)}", "prompt": "weathered red bricks",
                   "control_image": str(view["depth"]), "output_dir": str(tmp_path / "out"),
                   "model": str(tiny_sd), "control_model": str(tiny_controlnet), "steps": 2, "guidance": 4.0,
                   "seed": 7}
        if kind == "restyle":
            request["image"] = str(view["picture"])
        request.update(fields)
        return request

    return make


@pytest.fixture(scope="session")
def tiny_controlnet_flux(tmp_path_factory):
    """A tiny random-weight FLUX ControlNet for the tiny FLUX pipeline."""
    from tiny_pipelines import build_tiny_flux_controlnet

    return build_tiny_flux_controlnet(tmp_path_factory.mktemp("models") / "tiny-controlnet-flux")
