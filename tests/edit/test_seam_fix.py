"""``seam_fix``: the inpainting pipeline gets the half-shifted picture and the cross where its
edges meet, and the result tiles; a plain inpaint of the same cross does not fix the seam."""

from __future__ import annotations

import numpy as np
import pytest
from edit_pictures import ramp_picture, save, seam_against_band
from PIL import Image

from core import protocol
from core.image_edit import half_shift, seam_cross_mask

BAND = 8  # seam_cross_mask's band on a 64 px picture


@pytest.fixture
def inpaint_calls(monkeypatch):
    """The keyword arguments of every call to the SD inpainting pipeline (a spy: it still runs)."""
    from diffusers import StableDiffusionInpaintPipeline

    calls = []
    real = StableDiffusionInpaintPipeline.__call__

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "__call__", spy)
    return calls


def inpaint(job_factory, tiny_sd, image, **fields) -> np.ndarray:
    from backend.tasks import inpaint as task

    request, job = job_factory(protocol.InpaintRequest, image=str(image), prompt="stone", steps=3, seed=1,
                               model=str(tiny_sd), **fields)
    return np.asarray(Image.open(task.run(request, job).files[0].path))


def test_seam_fix_inpaints_the_cross_on_the_half_shifted_picture(job_factory, tiny_sd, tmp_path,
                                                                  inpaint_calls):
    picture = ramp_picture()
    fixed = inpaint(job_factory, tiny_sd, save(picture, tmp_path / "ramp.png"), seam_fix=True)

    (call,) = inpaint_calls
    assert np.array_equal(call["image"][0], half_shift(picture).astype(np.float32) / 255)
    assert np.array_equal(np.asarray(call["mask_image"]), (seam_cross_mask(64, 64) * 255).astype(np.uint8))
    kept = half_shift(seam_cross_mask(64, 64), back=True) == 0  # the cross, back where the edges are
    assert np.array_equal(fixed[kept], picture[kept])
    for axis in (0, 1):
        assert seam_against_band(picture, BAND, axis) > 10  # the ramp's seam: a jump from 1 to 0
        assert seam_against_band(fixed, BAND, axis) < 1.5  # no harsher than the repainted band


@pytest.mark.parametrize(("seam_fix", "recorded"), [(True, "xy"), (False, "off")])
def test_a_seam_fixed_result_is_recorded_as_tiling_both_ways(job_factory, tiny_sd, tmp_path, seam_fix,
                                                              recorded):
    """So a later upscale of it wraps around its edges (Blender reads the record's ``seamless``)."""
    from backend.tasks import inpaint as task

    image = save(ramp_picture(), tmp_path / "ramp.png")
    mask = save((seam_cross_mask(64, 64) * 255).astype(np.uint8), tmp_path / "cross.png")
    request, job = job_factory(protocol.InpaintRequest, image=str(image), prompt="stone", steps=2, seed=1,
                               model=str(tiny_sd), mask=str(mask), seam_fix=seam_fix)
    output = task.run(request, job)
    assert output.data["seamless"] == output.metadata["parameters"]["seamless"] == recorded


def test_plain_inpaint_of_the_cross_leaves_the_seam(job_factory, tiny_sd, tmp_path):
    picture = ramp_picture()
    cross = save((seam_cross_mask(64, 64) * 255).astype(np.uint8), tmp_path / "cross.png")
    plain = inpaint(job_factory, tiny_sd, save(picture, tmp_path / "ramp.png"), mask=str(cross))
    assert all(seam_against_band(plain, BAND, axis) > 10 for axis in (0, 1))


def test_seam_fix_joins_a_painted_mask_to_the_cross(job_factory, tiny_sd, tmp_path, inpaint_calls):
    picture = ramp_picture()
    mask = np.zeros((64, 64), np.uint8)
    mask[40:50, 40:50] = 255
    inpaint(job_factory, tiny_sd, save(picture, tmp_path / "ramp.png"), seam_fix=True,
            mask=str(save(mask, tmp_path / "mask.png")))
    sent = np.asarray(inpaint_calls[0]["mask_image"])
    expected = np.maximum(half_shift(mask), (seam_cross_mask(64, 64) * 255).astype(np.uint8))
    assert np.array_equal(sent, expected)
