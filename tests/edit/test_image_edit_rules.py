"""The shared edit rules (``core.image_edit``): strength, steps, masks, seam cross, compositing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.image_edit import (
    ImageEditError,
    check_coverage,
    check_strength,
    composite,
    fit_mask,
    half_shift,
    seam_cross_mask,
    steps_for_strength,
)


@pytest.mark.parametrize("strength", [0.0, -0.1, 1.01, 2, math.nan, math.inf, "0.5"])
def test_strength_out_of_range_is_refused_with_a_hint(strength):
    with pytest.raises(ImageEditError, match="strength must be above 0 and at most 1") as caught:
        check_strength(strength)
    assert caught.value.hint


@pytest.mark.parametrize("strength", [1e-6, 0.3, 1.0, 1])
def test_strength_in_range_passes(strength):
    check_strength(strength)


@pytest.mark.parametrize(("steps", "strength", "expected"),
                         [(1, 0.5, 2), (1, 1.0, 1), (4, 0.3, 4), (2, 0.3, 4), (1, 0.25, 4), (30, 0.5, 30),
                          (1, 0.01, 100)])
def test_steps_are_raised_to_the_first_count_that_denoises(steps, strength, expected):
    raised = steps_for_strength(steps, strength)
    assert raised == expected
    assert int(raised * strength) >= 1 and (raised == steps or int((raised - 1) * strength) < 1)


def test_steps_match_the_first_count_that_denoises_for_many_strengths():
    for strength in np.linspace(0.0067, 1.0, 2000).tolist() + [1 / 3, 1 / 7, 0.1, 0.7]:
        first = next(n for n in range(1, 200) if int(n * strength) >= 1)
        assert steps_for_strength(1, strength, most=200) == first, strength


@pytest.mark.parametrize("strength", [1e-12, 5e-324, 0.001])
def test_a_strength_needing_more_steps_than_the_limit_is_refused(strength, monkeypatch):
    monkeypatch.setenv("ATELIER_MAX_STEPS", "150")
    with pytest.raises(ImageEditError, match=r"would need .* denoising steps, above the limit of 150") as err:
        steps_for_strength(1, strength)
    assert "use strength at least 0.0067" in err.value.hint


def test_the_limit_itself_is_allowed():
    assert steps_for_strength(1, 1 / 150, most=150) == 150
    with pytest.raises(ImageEditError, match="151 denoising steps"):
        steps_for_strength(1, 1 / 151, most=150)


def test_mask_of_the_image_size_is_kept_as_is():
    mask = np.random.default_rng(0).random((48, 64)).astype(np.float32)
    assert np.array_equal(fit_mask(mask, 48, 64), mask)


def test_mask_of_the_same_aspect_is_resampled():
    mask = np.zeros((24, 32), np.float32)
    mask[:, 16:] = 1.0
    fitted = fit_mask(mask, 48, 64)
    assert fitted.shape == (48, 64)
    assert np.all(fitted[:, :30] == 0) and np.all(fitted[:, 34:] == 1)
    assert 0 < fitted[0, 31] < 1  # bilinear: a soft step where the halves meet


def test_mask_of_another_aspect_names_both_sizes():
    with pytest.raises(ImageEditError, match="32x32 .* 64x48") as caught:
        fit_mask(np.ones((32, 32)), 48, 64)
    assert "64x48" in caught.value.hint


def test_empty_and_full_masks_are_refused():
    with pytest.raises(ImageEditError, match="empty") as empty:
        check_coverage(np.zeros((8, 8)))
    with pytest.raises(ImageEditError, match="whole image") as full:
        check_coverage(np.ones((8, 8)))
    assert "white" in empty.value.hint and "refine_texture" in full.value.hint
    partial = np.zeros((8, 8))
    partial[2, 3] = 0.2
    check_coverage(partial)


@pytest.mark.parametrize("shape", [(64, 64, 3), (63, 65), (5, 7, 3)])
def test_half_shift_moves_the_corners_to_the_middle_and_back(shape):
    pixels = np.arange(np.prod(shape)).reshape(shape)
    shifted = half_shift(pixels)
    height, width = shape[:2]
    assert np.array_equal(shifted[height // 2, width // 2], pixels[0, 0])
    assert np.array_equal(half_shift(shifted, back=True), pixels)


def test_seam_cross_covers_the_meeting_edges():
    mask = seam_cross_mask(64, 128)
    assert mask.dtype == np.float32 and mask.shape == (64, 128)
    assert set(np.unique(mask)) == {0.0, 1.0}
    rows = np.flatnonzero(mask[:, 0])
    columns = np.flatnonzero(mask[0])
    assert len(rows) == 8 and rows[0] < 32 <= rows[-1]  # at least 8 px around the centre row
    assert len(columns) == 8 and columns[0] < 64 <= columns[-1]
    assert mask[0, 0] == 0 and mask[-1, -1] == 0
    assert len(np.flatnonzero(seam_cross_mask(512, 512)[:, 0])) == 32  # a sixteenth of the side
    assert len(np.flatnonzero(seam_cross_mask(64, 64, band=4)[:, 0])) == 4


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_composite_keeps_the_original_exactly_outside_the_mask(dtype):
    rng = np.random.default_rng(1)
    top = np.iinfo(dtype).max if dtype != np.float32 else 1.0
    original = (rng.random((16, 16, 3)) * top).astype(dtype)
    generated = rng.random((16, 16, 3)).astype(np.float32)  # a pipeline's output, 0..1
    mask = np.zeros((16, 16), np.float32)
    mask[4:8, 4:8] = 1.0
    mask[10, 10] = 0.5
    result = composite(original, generated, mask)
    assert result.dtype == original.dtype
    outside = mask == 0
    assert np.array_equal(result[outside], original[outside])
    expected_inside = generated[4:8, 4:8] if dtype == np.float32 else np.rint(generated[4:8, 4:8] * top)
    assert np.array_equal(result[4:8, 4:8], expected_inside.astype(dtype))
    half = (original[10, 10].astype(np.float64) + generated[10, 10] * top) / 2
    assert np.allclose(result[10, 10], half, atol=1 if dtype != np.float32 else 1e-6)


def test_composite_refuses_pixels_of_another_size():
    with pytest.raises(ImageEditError):
        composite(np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), np.ones((8, 8)))
