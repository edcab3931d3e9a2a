"""Shared set-up for the edit tests: refine and inpaint requests for the served backend."""

from __future__ import annotations

import itertools

import pytest

_edit_ids = itertools.count()


@pytest.fixture
def edit_request(tiny_sd, tmp_path):
    """``edit_request(kind, image, **fields)``: a valid small refine or inpaint request (tiny SD,
    2 steps, seed 7); keyword arguments override fields."""
    def make(kind: str, image, **fields) -> dict:
        request = {"type": kind, "id": f"{kind}-{next(_edit_ids)}", "image": str(image),
                   "prompt": "weathered red bricks", "output_dir": str(tmp_path / "out"),
                   "model": str(tiny_sd), "steps": 2, "seed": 7}
        request.update(fields)
        return request

    return make
