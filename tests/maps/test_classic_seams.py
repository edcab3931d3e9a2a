"""A seamless texture gives seamless classic maps: filters wrap on the axes that tile.

Two checks, each shown failing with the wrap turned off: the last and first columns (rows) of
a map differ no more than neighbouring columns (rows) inside it; and shifting the texture
around (np.roll) shifts its maps the same way, so no place in a tiling is special.
"""

import numpy as np
import pytest
from seams import seam_ratio, tiling_noise

from core import pbr_classic

SHAPE = (256, 256)
SHIFT = (70, 150)  # rows, columns
# Seam difference / mean neighbour difference inside: about 1 for a map that wraps (measured
# 0.9 to 1.2 on this texture: where the seam falls the texture is a little steeper or flatter),
# 1.5 to 2.4 for the normal, height and roughness maps of the same texture without wrapping.
SEAM_RATIO_LIMIT = 1.35
SEAM_CHECKED = ("normal", "height", "roughness", "ao")
# Occlusion is 1 on most of a texture, so a broken seam barely moves its mean difference; its
# seam shows in the shift check instead.
SEAM_FAILS_UNWRAPPED = ("normal", "height", "roughness")


@pytest.fixture(scope="module")
def seamless_texture():
    return tiling_noise(SHAPE)


def test_the_texture_itself_tiles(seamless_texture):
    for axis in (0, 1):
        assert seam_ratio(seamless_texture, axis) <= SEAM_RATIO_LIMIT


@pytest.mark.parametrize("role", SEAM_CHECKED)
def test_seamless_maps_continue_across_both_edges(seamless_texture, role):
    made = pbr_classic.derive(seamless_texture, [role], seamless="xy")[role]
    assert seam_ratio(made, 1) <= SEAM_RATIO_LIMIT
    assert seam_ratio(made, 0) <= SEAM_RATIO_LIMIT


@pytest.mark.parametrize("role", SEAM_FAILS_UNWRAPPED)
def test_maps_made_without_wrapping_show_the_seam(seamless_texture, role):
    """The same check fails when the filters do not wrap: mirrored edges do not continue."""
    made = pbr_classic.derive(seamless_texture, [role], seamless="off")[role]
    assert seam_ratio(made, 1) > SEAM_RATIO_LIMIT
    assert seam_ratio(made, 0) > SEAM_RATIO_LIMIT


@pytest.mark.parametrize(("seamless", "wrapped_axis", "cut_axis"), [("x", 1, 0), ("y", 0, 1)])
def test_one_wrapped_axis_gives_one_seamless_direction(seamless_texture, seamless, wrapped_axis,
                                                       cut_axis):
    for role in SEAM_FAILS_UNWRAPPED:
        made = pbr_classic.derive(seamless_texture, [role], seamless=seamless)[role]
        assert seam_ratio(made, wrapped_axis) <= SEAM_RATIO_LIMIT, role
        assert seam_ratio(made, cut_axis) > SEAM_RATIO_LIMIT, role


def _shift_mismatch(texture, seamless, axes):
    """Per map, the largest difference between the maps of the shifted texture and the
    shifted maps."""
    shift = tuple(SHIFT[axis] for axis in axes)
    plain = pbr_classic.derive(texture, seamless=seamless)
    shifted = pbr_classic.derive(np.roll(texture, shift, axis=axes), seamless=seamless)
    return {role: float(np.abs(np.roll(plain[role], shift, axis=axes) - shifted[role]).max())
            for role in plain}


def test_shifting_a_seamless_texture_shifts_its_maps(seamless_texture):
    mismatch = _shift_mismatch(seamless_texture, "xy", (0, 1))
    assert max(mismatch.values()) <= 1e-4, mismatch


def test_shifting_breaks_maps_made_without_wrapping(seamless_texture):
    """Without wrapping, the picture's edges are special: the shifted maps differ (metallic,
    zero everywhere, and albedo, the input itself, do not depend on neighbours)."""
    mismatch = _shift_mismatch(seamless_texture, "off", (0, 1))
    assert all(mismatch[role] > 0.02 for role in SEAM_CHECKED), mismatch


@pytest.mark.parametrize(("seamless", "wrapped_axis", "cut_axis"), [("x", 1, 0), ("y", 0, 1)])
def test_shifting_along_the_wrapped_axis_only_is_seamless(seamless_texture, seamless,
                                                          wrapped_axis, cut_axis):
    along = _shift_mismatch(seamless_texture, seamless, (wrapped_axis,))
    across = _shift_mismatch(seamless_texture, seamless, (cut_axis,))
    assert max(along.values()) <= 1e-4, along
    assert all(across[role] > 0.02 for role in SEAM_CHECKED), across
